"""What the pages call the catalog's fields and values, in the visitor's language.

The services name things by stable codes (`stage`, `organisation`, `video-360p`); people see
these labels. They are lazy strings, translated when a page renders, and written out here
one by one so the message extractor finds every one of them (a test checks that every
metadata field, visibility, status and format family has its label).
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

__all__ = ["FIELD_LABELS", "CHOICE_LABELS", "FORMAT_LABELS", "FACET_LABELS", "RENDITION_LABELS",
           "ROLE_LABELS", "ORG_KIND_LABELS", "label_context"]

FIELD_LABELS = {
    "title": _l("标题"), "description": _l("简介"), "creator": _l("作者"), "publisher": _l("来源单位"),
    "language": _l("语言"), "license": _l("版权/许可"), "date": _l("日期"),
    "stage": _l("学段"), "grade": _l("年级"), "subject": _l("学科"), "edition": _l("教材版本"),
    "volume": _l("册次"), "chapter": _l("单元/章"), "lesson": _l("课"), "type": _l("资源类型"),
    "tags": _l("标签"), "visibility": _l("可见范围"), "status": _l("状态"),
}

#: Values of the visibility and status fields.
CHOICE_LABELS = {
    "public": _l("公开"), "organisation": _l("本单位"), "private": _l("私有"),
    "draft": _l("草稿"), "published": _l("已发布"),
}

#: Format families (repo_server.ingest.formats).
FORMAT_LABELS = {
    "document": _l("文档"), "presentation": _l("演示文稿"), "spreadsheet": _l("表格"),
    "video": _l("视频"), "audio": _l("音频"), "image": _l("图片"), "ebook": _l("电子书"),
    "archive": _l("压缩包"), "animation": _l("动画"), "web": _l("网页"), "text": _l("文本"),
}

#: Search facets, in the order the search page shows them.
FACET_LABELS = {
    "stage": FIELD_LABELS["stage"], "grade": FIELD_LABELS["grade"], "subject": FIELD_LABELS["subject"],
    "edition": FIELD_LABELS["edition"], "volume": FIELD_LABELS["volume"], "type": FIELD_LABELS["type"],
    "format": _l("格式"), "org": _l("单位"),
}

RENDITION_LABELS = {"video-360p": _l("标清 360p"), "video-720p": _l("高清 720p")}

#: User roles (repo_server.catalog.people.ROLES).
ROLE_LABELS = {"admin": _l("管理员"), "editor": _l("资源编辑"), "teacher": _l("教师")}

#: Organisation levels (repo_server.catalog.people.ORG_KINDS).
ORG_KIND_LABELS = {"city": _l("市级"), "county": _l("县级"), "school": _l("学校"), "other": _l("其他单位")}


def label_context() -> dict:
    """Template globals: `field_labels`, `choice_labels`, `format_labels`, `rendition_labels`,
    `role_labels`, `org_kind_labels`."""
    return {"field_labels": FIELD_LABELS, "choice_labels": CHOICE_LABELS,
            "format_labels": FORMAT_LABELS, "rendition_labels": RENDITION_LABELS,
            "role_labels": ROLE_LABELS, "org_kind_labels": ORG_KIND_LABELS}
