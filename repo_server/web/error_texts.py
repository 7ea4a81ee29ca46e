"""What to tell a person about a refusal, in the visitor's language.

Services refuse with an English `message` (for the API, the CLI and the logs) and, in the
error's details, a stable `reason` with the values an explanation needs (`max_length`,
`value`, `choices` …). A page never shows the English message when it knows the reason:
`TEXTS` maps each reason to our own words, a gettext text with %(name)s placeholders (or, for
the rare text whose wording depends on the values, a function of them). Values are shown as
people name them: a field by its label, a format family or a choice by its label, byte counts
as sizes, lists joined. A reason missing here falls back to the English message; a test keeps
every reason raised in repo_server in this table.

The upload page's script, which meets the upload API's JSON errors, gets the same texts with
{name} placeholders and the same labels (`script_texts`) and fills them in the same way.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Union

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from repo_server.errors import RepoError

from .labels import CHOICE_LABELS, FACET_LABELS, FIELD_LABELS, FORMAT_LABELS, ORG_KIND_LABELS

__all__ = ["TEXTS", "error_text", "error_line", "shown_errors", "field_label", "script_texts"]

Text = Union[LazyString, Callable[[Mapping[str, Any]], str]]   # a lazy text, or values → text

#: What the inputs that are not metadata fields are called (metadata fields: labels.py).
_INPUT_LABELS = {
    "file": _l("文件"), "filename": _l("文件名"), "relative_path": _l("文件夹中的路径"),
    "ids": _l("所选资源"), "org": FACET_LABELS["org"], "format": FACET_LABELS["format"],
    "q": _l("搜索词"), "page": _l("页码"), "per_page": _l("每页条数"), "sort": _l("排序"),
    "days": _l("时间范围"),
}

#: Values shown by their labels: detail name → code → label.
_VALUE_LABELS: dict[str, Mapping[str, Any]] = {
    "field": {**FIELD_LABELS, **_INPUT_LABELS}, "choices": CHOICE_LABELS,
    "claimed": FORMAT_LABELS, "detected": FORMAT_LABELS, "formats": FORMAT_LABELS,
    "kind": ORG_KIND_LABELS, "parent_kind": ORG_KIND_LABELS,
}
#: Values that are byte counts.
_SIZES = ("limit", "remaining", "needed")


def _level_text(values: Mapping[str, Any]) -> str:
    if not values["parent_kind"]:
        return _("%(kind)s必须位于上级单位之下（市 → 县 → 学校）", kind=values["kind"])
    return _("%(kind)s不能位于%(parent)s之下（市 → 县 → 学校）", kind=values["kind"],
             parent=values["parent_kind"])


# reason → text. Written to follow the field's label where there is a field ("标题：…").
TEXTS: dict[str, Text] = {
    # people and organisations (services/accounts.py, user_admin.py, organisations.py)
    "username_format": _l("用户名为 2–80 个字母、数字或 . _ @ -"),
    "username_taken": _l("用户名“%(username)s”已被使用"),
    "role": _l("请选择有效的角色"),
    "password_short": _l("密码至少需要 %(minimum)s 个字符"),
    "org_missing": _l("所选单位不存在"),
    "assign_role": _l("编辑只能创建和管理教师账号"),
    "assign_org": _l("请选择您所在的单位或其下属单位"),
    "own_role": _l("不能修改自己的角色，请由另一位管理员操作"),
    "own_account": _l("不能停用自己的账号"),
    "not_manageable": _l("编辑只能管理教师账号"),
    "org_name": _l("单位名称不能为空，也不能包含“/”"),
    "org_kind": _l("请选择有效的单位级别"),
    "org_exists": _l("同一上级单位下已有“%(name)s”"),
    "org_level": _level_text,
    "org_cycle": _l("不能把单位移到它自己或它的下属单位之下"),
    # API tokens (services/api_tokens.py)
    "token_name": _l("令牌名称最多 %(maximum)s 个字符"),
    "token_limit": _l("每个用户最多有 %(maximum)s 个有效令牌，请先撤销一些"),
    "token_missing": _l("没有这个令牌"),
    # vocabularies (catalog/vocab.py, vocab_edits.py, services/vocabularies.py)
    "term_name": _l("名称不能为空，最多 100 个字符"),
    "term_taken": _l("“%(name)s”已是本词表中的词条或别名"),
    "alias_taken": _l("“%(alias)s”已是“%(term)s”的名称或别名"),
    "alias_empty": _l("别名不能为空，最多 100 个字符"),
    "scheme": _l("未知的词表"),
    "unknown_term": _l("词表中没有“%(value)s”，请从列表中选择"),
    "unknown_term_close": _l("词表中没有“%(value)s”；您要找的是不是：%(suggestions)s"),
    "ambiguous_term": _l("“%(value)s”可以指%(suggestions)s，请写出其中一个"),
    # metadata (services/fields.py, plain_text.py, resources.py)
    "markup": _l("请填写纯文本，不能包含 HTML 标记或控制字符"),
    "not_text": _l("请填写文字"),
    "control_chars": _l("不能包含控制字符"),
    "too_long": _l("最多 %(max_length)s 个字符，现在有 %(length)s 个"),
    "too_many_tags": _l("最多 %(maximum)s 个标签，现在有 %(count)s 个"),
    "choice": _l("“%(value)s”不是可选的值，请选择%(choices)s"),
    "date": _l("“%(value)s”不是有效的日期，请写成 2024、2024-09 或 2024-09-01"),
    "language": _l("“%(value)s”不是语言代码，请写成 zh-CN、en 这样的形式"),
    "unknown_field": _l("没有这个字段"),
    "grade_stage": _l("%(grade)s不属于%(stage)s"),
    "fields": _l("有 %(count)s 项填写有误"),
    "title_empty": _l("标题不能为空"),
    "own_org_only": _l("只能把资源归入您所在的单位或其下属单位"),
    "duplicate": _l("资源库中已有这个文件；如果要把它用于另一课，请勾选“文件已存在时仍另存一条”再上传"),
    "bulk_none": _l("请至少选择一个资源"),
    "bulk_too_many": _l("一次最多修改 %(maximum)s 个资源，现在选了 %(count)s 个"),
    "bulk_tags": _l("批量修改标签请用“添加标签”和“移除标签”"),
    # who may do what (services/permissions.py)
    "login": _l("请先登录"),
    "bad_token": _l("API 令牌无效或已撤销"),
    "uploaders_only": _l("只有资源编辑和管理员可以上传资源"),
    "no_resource": _l("没有这个资源，或者您无权查看"),
    # the catalog tree, lessons, previews (services/browse.py, web/lesson_zip.py, services/derivatives.py)
    "no_catalog_node": _l("目录中没有“%(value)s”"),
    "catalog_gap": _l("目录路径须从学段开始逐级填写"),
    "no_lesson": _l("这个资源没有归入某一课，无法下载整课"),
    "no_derivative": _l("这个预览或转码文件还没有生成"),
    "not_editable": _l("您无权修改这个资源"),
    # the file itself (ingest/sniff.py, ingest/filenames.py, blobstore/staging.py, web/uploads.py)
    "empty_file": _l("“%(filename)s”是空文件（0 字节），没有保存"),
    "dangerous_extension": _l("“%(filename)s”是 .%(extension)s 文件，可以运行程序，不能上传"),
    "dangerous_content": _l("“%(filename)s”的内容是程序或脚本，无论文件名是什么都不能上传"),
    "unsupported_type": _l("无法识别“%(filename)s”的内容；资源库保存文档、演示文稿、表格、PDF、"
                           "电子书、视频、音频、图片和压缩包"),
    "extension_mismatch": _l("“%(filename)s”的扩展名 .%(extension)s 表示%(claimed)s，但内容是"
                             "%(detected)s；请改正文件名或重新导出"),
    "filename_missing": _l("文件没有名称"),
    "filename_climbs": _l("文件名不能包含“..”这样的上级目录"),
    "filename_directory": _l("这是文件夹的名称，不是文件"),
    "too_large": _l("文件超过了 %(limit)s 的上限"),
    "form_too_large": _l("表单中的文字太长或字段太多（文字最多 %(limit)s）"),
    "incomplete_upload": _l("上传在完成前中断了（网络断开或已取消），没有保存任何内容，请重新上传"),
    "unreadable_upload": _l("无法读取上传的内容，请重新上传"),
    "no_file": _l("请选择要上传的文件"),
    # resumable uploads (services/upload_metadata.py, upload_sessions.py, upload_bytes.py, web/resumable.py)
    "path_climbs": _l("文件夹路径不能包含“..”"),
    "path_empty": _l("文件夹路径为空"),
    "junk_file": _l("隐藏文件和系统文件（.DS_Store、Thumbs.db、~$ 临时文件）不是资源"),
    "no_upload": _l("找不到这次上传，请重新上传"),
    "upload_expired": _l("这次上传已过期，请重新上传文件"),
    "upload_locked": _l("上一个请求还在写入这个文件，请稍后再试"),
    "no_space": _l("服务器空间不足，放不下这个文件（%(needed)s），请联系管理员"),
    "disk_full": _l("服务器磁盘已满；已收到的内容会保留，腾出空间后可以继续"),
    "offset_mismatch": _l("上传进度与服务器记录的不一致，将从服务器记录的位置继续"),
    "too_much_data": _l("发送的数据超过了文件声明的大小（只剩 %(remaining)s）"),
    "checksum": _l("数据校验失败，这一段没有保存，将重新发送"),
    "connection_dropped": _l("上传中断了；已收到的内容会保留，可以继续上传"),
    "filing_failed": _l("服务器未能保存这个文件，已收到的内容仍保留：请稍后重试，一直失败请联系管理员"),
    "upload_filed": _l("这个文件已经保存过了"),
    "upload_unfinished": _l("这个文件还没有上传完"),
    "upload_refused": _l("文件本身被拒绝，内容已删除；请上传改正后的文件"),
    "json_object": _l("请求的格式有误"),
    # search (services/searching.py, web/api.py)
    "sort": _l("排序方式无效"),
    "per_page": _l("每页最多 %(maximum)s 条"),
    "page_start": _l("页码从 1 开始"),
    "page_number": _l("页码必须是整数"),
    "page_beyond": _l("只能翻看前 %(maximum)s 个结果，请加上关键词或筛选条件缩小范围"),
    "unknown_filter": _l("没有这个筛选条件"),
    "unknown_parameter": _l("不认识的参数“%(name)s”"),
    "unknown_format": _l("没有“%(value)s”这种格式，可选：%(formats)s"),
    "unknown_org": _l("没有“%(value)s”这个单位"),
    # media jobs (services/media_jobs.py) and statistics (services/statistics.py, web/stats.py)
    "no_media_job": _l("这个资源没有需要生成的预览或转码版本"),
    "job_ended": _l("任务已经结束，无法取消"),
    "job_not_retryable": _l("只有失败或已取消的任务可以重试"),
    "job_action": _l("未知的操作"),
    "period": _l("请选择列出的时间范围"),
    # mirror status reports (services/mirror_status.py, mirror_reports.py, web/mirrors.py)
    "mirror_missing": _l("同步状态中缺少这一项"),
    "mirror_name": _l("镜像名称不能为空"),
    "mirror_number": _l("必须是 0 到 %(maximum)s 之间的数（现在是 %(value)s）"),
    "mirror_time": _l("“%(value)s”不是带时区的 ISO 8601 时间，请写成 2026-11-24T03:00:00Z"),
    "mirror_chain": _l("必须是名称列表，最多 %(maximum)s 个名称，每个最多 %(max_length)s 个字符"),
    "mirror_owned": _l("镜像“%(name)s”已由另一个账号报告；请换一个镜像名称（REPO_MIRROR_NAME），或请管理员处理"),
    "mirror_token": _l("报告镜像状态需要 API 令牌"),
    "mirrors_editors_only": _l("只有编辑和管理员可以查看镜像"),
    "no_mirror": _l("没有名为“%(name)s”的镜像（或它不在您可管理的范围内）"),
    "report_too_large": _l("状态报告最多 %(limit)s"),
    "mirror_read_only": _l("这台服务器是上级资源库的只读镜像：请到上级服务器上传和修改资源，下次同步后会出现在这里"),
    # web/errors.py: anything unexpected
    "internal": _l("服务器出错了；管理员可以在日志中找到详细信息"),
}


class _Values(dict):
    """An error's values as people read them; a value the error lacks reads as empty."""

    def __missing__(self, key: str) -> str:
        return ""


def _size(n: int) -> str:
    """Bytes as the upload page's script writes them (1.5 GB)."""
    units, value, i = ("B", "KB", "MB", "GB", "TB"), float(n), 0
    while value >= 1024 and i < len(units) - 1:
        value, i = value / 1024, i + 1
    return f"{value:.1f} {units[i]}" if i else f"{n} B"


def _shown(name: str, value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return _("、").join(str(_shown(name, v)) for v in value)
    if name in _SIZES and isinstance(value, int):
        return _size(value)
    labels = _VALUE_LABELS.get(name, {})
    return labels[value] if isinstance(value, str) and value in labels else value


def _body(error: RepoError | Mapping[str, Any]) -> Mapping[str, Any]:
    return error.as_dict() if isinstance(error, RepoError) else error


def error_text(error: RepoError | Mapping[str, Any]) -> str:
    """What to tell a person about one refusal (an error or its `as_dict()` body): our own
    words where we know the reason, else the service's message."""
    body = _body(error)
    text = TEXTS.get(body.get("reason") or "")
    if text is None:
        return str(body.get("message", ""))
    values = _Values({name: _shown(name, value) for name, value in body.items() if value is not None})
    return str(text) % values if isinstance(text, LazyString) else text(values)


def field_label(name: str | None) -> str:
    """What the pages call an input; an unknown name as it is."""
    return str(_shown("field", name)) if name else ""


def error_line(error: RepoError | Mapping[str, Any]) -> str:
    """One refusal as one line: the field's label, then the text ("标题：不能为空")."""
    body = _body(error)
    text = error_text(body)
    return _("%(label)s：%(text)s", label=field_label(body.get("field")), text=text) \
        if body.get("field") else text


def shown_errors(exc: RepoError) -> list[dict[str, Any]]:
    """The problems of a refusal as a form lists them, one per field where the service
    collected several (`details['errors']`): each error's own values (`existing` of a
    duplicate …) with `label` (the field's) and `message` in the visitor's language."""
    bodies = exc.details.get("errors") or [exc.as_dict()]
    return [{**body, "label": field_label(body.get("field")), "message": error_text(body)}
            for body in bodies]


class _Placeholders(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def script_texts() -> dict[str, Any]:
    """The texts, labels and rules above for static/upload.js, in the visitor's language:
    `texts` (reason → text with {name} placeholders; worded-by-values texts are left out and
    fall back to the message there), `labels`, `sizes`, `separator` and `line`."""
    return {
        "texts": {reason: str(text) % _Placeholders() for reason, text in TEXTS.items()
                  if isinstance(text, LazyString)},
        "labels": {name: {code: str(label) for code, label in labels.items()}
                   for name, labels in _VALUE_LABELS.items()},
        "sizes": list(_SIZES), "separator": _("、"),
        "line": _("%(label)s：%(text)s") % _Placeholders(),
    }
