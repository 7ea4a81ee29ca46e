"""The fixed query mix: what teachers type into the search box, and browsing with filters.

Each entry: (short label, q, filters, sort). Every request also computes all facets (the
service always does), so every row is "with facets". The mix is the same for both engines
and every library size. Filters use names and aliases as a browser sends them (初二, 部编版,
视频); the service resolves them to vocabulary codes.
"""

from __future__ import annotations

__all__ = ["QUERIES", "KINDS"]

Q = tuple[str, str, dict[str, tuple[str, ...]], str]

QUERIES: list[Q] = [
    # whole lesson titles
    ("title", "勾股定理", {}, "relevance"),
    ("title", "一元二次方程", {}, "relevance"),
    ("title", "光合作用", {}, "relevance"),
    ("title", "静夜思", {}, "relevance"),
    ("title", "背影", {}, "relevance"),
    ("title", "欧姆定律", {}, "relevance"),
    ("title+type", "荷塘月色 教学设计", {}, "relevance"),
    ("title+type", "牛顿第一定律 课件", {}, "relevance"),
    ("title+type", "鸦片战争 微课", {}, "relevance"),
    ("title+ordinal", "勾股定理 第2课时", {}, "relevance"),
    # partial titles, two words
    ("partial", "勾股", {}, "relevance"),
    ("partial", "化学方程式", {}, "relevance"),
    ("two words", "二次函数 图像", {}, "relevance"),
    ("two words", "三角形 内角和", {}, "relevance"),
    ("two words", "导学案 分数", {}, "relevance"),
    ("latin", "Unit 1 Hello", {}, "relevance"),
    # classification words typed into the box
    ("classification", "八年级 数学 人教版", {}, "relevance"),
    ("classification", "七年级上册 语文 统编版", {}, "relevance"),
    ("classification", "高一 物理 必修 第一册", {}, "relevance"),
    ("classification", "期末试卷 九年级 物理", {}, "relevance"),
    # pinyin and initials
    ("pinyin", "gougu", {}, "relevance"),
    ("initials", "ggdl", {}, "relevance"),
    ("pinyin", "guanghezuoyong", {}, "relevance"),
    # traditional characters
    ("traditional", "勾股定理 課件", {}, "relevance"),
    ("traditional", "牛頓第一定律", {}, "relevance"),
    # aliases from the vocabularies
    ("alias", "部编版 语文", {}, "relevance"),
    ("alias", "初一 数学", {}, "relevance"),
    ("alias", "生物 细胞", {}, "relevance"),
    ("alias", "思想品德", {}, "relevance"),
    ("alias", "PEP 三年级 英语", {}, "relevance"),
    # broad one-word queries matching a large share of the library
    ("broad", "数学", {}, "relevance"),
    ("broad", "课件", {}, "relevance"),
    # a homophone typo (did-you-mean runs)
    ("typo", "勾古定理", {}, "relevance"),
    # words plus filters and sorting
    ("q+filters", "课件", {"subject": ("物理",), "grade": ("初二",)}, "relevance"),
    ("q+filters", "函数", {"stage": ("高中",)}, "downloads"),
    ("q+filters", "复习", {"grade": ("九年级",), "type": ("试卷",)}, "newest"),
    # browsing: no words, filters only (facet counts for the filter panels)
    ("browse", "", {}, "newest"),
    ("browse", "", {"subject": ("数学",), "grade": ("八年级",)}, "relevance"),
    ("browse", "", {"stage": ("小学",), "type": ("课件",)}, "newest"),
    ("browse", "", {"subject": ("语文",), "edition": ("部编版",)}, "downloads"),
    ("browse", "", {"format": ("视频",)}, "downloads"),
]

KINDS = sorted({kind for kind, *_ in QUERIES})
