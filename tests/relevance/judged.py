"""A small realistic library and queries written the way teachers type them, with judgments.

LIBRARY: key → (title, metadata). Metadata use the names and aliases teachers use.
QUERIES: (query, {key: grade}, must-find keys). Grade 2 = what the teacher is looking for,
1 = also a good answer. Must-find keys have to appear in the top 10.
"""

from __future__ import annotations

M8 = {"grade": "八年级", "subject": "数学", "edition": "人教版", "volume": "下册"}
M9 = {"grade": "九年级", "subject": "数学", "edition": "人教版", "volume": "上册"}
M7 = {"grade": "七年级", "subject": "数学", "edition": "北师大版", "volume": "上册"}
Y1 = {"grade": "一年级", "subject": "语文", "edition": "统编版", "volume": "上册"}
Y3 = {"grade": "三年级", "subject": "语文", "edition": "统编版", "volume": "上册"}
Y8 = {"grade": "八年级", "subject": "语文", "edition": "统编版", "volume": "上册"}
S7 = {"grade": "七年级", "subject": "生物学", "edition": "人教版", "volume": "上册"}
P8 = {"grade": "八年级", "subject": "物理", "edition": "人教版", "volume": "下册"}
E3 = {"grade": "三年级", "subject": "英语", "edition": "人教PEP版", "volume": "上册"}
D7 = {"grade": "七年级", "subject": "道德与法治", "edition": "统编版", "volume": "上册"}
C9 = {"grade": "九年级", "subject": "化学", "edition": "人教版", "volume": "上册"}
G10 = {"stage": "高中", "subject": "数学", "edition": "人教A版", "volume": "必修 第一册"}

LIBRARY: dict[str, tuple[str, dict]] = {
    # 数学 八年级 勾股定理
    "gg_kj": ("勾股定理 课件", {**M8, "type": "课件", "chapter": "第十七章 勾股定理", "lesson": "第1课时"}),
    "gg_ja": ("勾股定理 教学设计", {**M8, "type": "教案", "chapter": "第十七章 勾股定理"}),
    "gg_wk": ("勾股定理的证明 微课", {**M8, "type": "微课", "chapter": "第十七章 勾股定理"}),
    "gg_ni": ("勾股定理的逆定理 课件", {**M8, "type": "课件", "chapter": "第十七章 勾股定理", "lesson": "第2课时"}),
    "gg_xt": ("勾股定理 课后练习", {**M8, "type": "习题"}),
    "pxsbx": ("平行四边形的性质 课件", {**M8, "type": "课件", "chapter": "第十八章 平行四边形"}),
    "ycjs": ("一次函数的图像 教案", {**M8, "type": "教案", "chapter": "第十九章 一次函数"}),
    # 数学 九年级 / 七年级 / 高中
    "yyec_kj": ("一元二次方程 课件", {**M9, "type": "课件", "chapter": "第二十一章 一元二次方程"}),
    "yyec_pf": ("配方法解一元二次方程 教学设计", {**M9, "type": "教案"}),
    "ecs": ("二次函数的图像和性质 微课", {**M9, "type": "微课"}),
    "yxj": ("圆周角定理 导学案", {**M9, "type": "学案"}),
    "yls": ("有理数的加法 课件", {**M7, "type": "课件"}),
    "fs_gz": ("函数的概念 课件", {**G10, "type": "课件"}),
    "jh_gz": ("集合的概念与表示 教案", {**G10, "type": "教案"}),
    # 语文
    "qiutian": ("秋天 课件", {**Y1, "type": "课件", "chapter": "第四单元", "lesson": "第1课 秋天"}),
    "qiutian_ld": ("《秋天》课文朗读", {**Y1, "type": "素材", "lesson": "第1课 秋天"}),
    "xiaoxiao": ("小小的船 教学设计", {**Y1, "type": "教案", "lesson": "第2课 小小的船"}),
    "dyq": ("大青树下的小学 课件", {**Y3, "type": "课件", "lesson": "第1课"}),
    "hualan": ("花的学校 教案", {**Y3, "type": "教案", "lesson": "第2课"}),
    "jyz": ("静夜思 古诗朗读", {"grade": "一年级", "subject": "语文", "type": "素材", "tags": ["古诗", "朗读"]}),
    "beiying": ("背影 教学设计", {**Y8, "type": "教案", "chapter": "第四单元"}),
    "taohuayuan": ("桃花源记 课件", {**Y8, "type": "课件"}),
    # 生物 物理 化学 英语 道法
    "xibao": ("植物细胞 课件", {**S7, "type": "课件", "chapter": "第二单元 细胞"}),
    "xibao_dx": ("细胞的结构 导学案", {**S7, "type": "学案"}),
    "ghzy": ("光合作用 微课", {**S7, "type": "微课", "description": "绿色植物通过叶绿体进行光合作用"}),
    "niudun": ("牛顿第一定律 课件", {**P8, "type": "课件", "chapter": "第八章 运动和力"}),
    "fuli": ("浮力 教学设计", {**P8, "type": "教案", "chapter": "第十章 浮力"}),
    "yali": ("压强 课堂实录", {**P8, "type": "课堂实录", "tags": ["优质课"]}),
    "zlsh": ("质量守恒定律 课件", {**C9, "type": "课件"}),
    "pep_u1": ("Unit 1 Hello! Part A 课件", {**E3, "type": "课件"}),
    "pep_u2": ("Unit 2 Colours 教案", {**E3, "type": "教案"}),
    "dfz": ("成长的节拍 教学设计", {**D7, "type": "教案", "chapter": "第一单元"}),
    # 繁体 (as uploaded from Hong Kong/Taiwan sources)
    "trad_gg": ("畢氏定理（勾股定理）動畫", {**M8, "type": "素材"}),
    "trad_book": ("檸檬 電子書", {"type": "电子图书"}),
    # noise: similar words, other grades
    "dingli_other": ("三角形内角和定理 课件", {**M8, "type": "课件"}),
    "fangcheng_7": ("一元一次方程 课件", {**M7, "type": "课件"}),
    "shijian": ("时、分、秒 课件", {"grade": "三年级", "subject": "数学", "edition": "人教版", "type": "课件"}),
    "zuowen": ("写作 学写传记 课件", {**Y8, "type": "课件"}),
}

QUERIES: list[tuple[str, dict[str, int], set[str]]] = [
    # lesson titles
    ("勾股定理", {"gg_kj": 2, "gg_ja": 2, "gg_wk": 2, "gg_xt": 2, "gg_ni": 1, "trad_gg": 1}, {"gg_kj", "gg_ja"}),
    ("一元二次方程", {"yyec_kj": 2, "yyec_pf": 2}, {"yyec_kj", "yyec_pf"}),
    ("光合作用", {"ghzy": 2}, {"ghzy"}),
    ("牛顿第一定律", {"niudun": 2}, {"niudun"}),
    ("背影", {"beiying": 2}, {"beiying"}),
    ("静夜思", {"jyz": 2}, {"jyz"}),
    # partial titles
    ("勾股", {"gg_kj": 2, "gg_ja": 2, "gg_wk": 2, "gg_xt": 2, "gg_ni": 2, "trad_gg": 1}, {"gg_kj"}),
    ("二次函数", {"ecs": 2}, {"ecs"}),
    ("桃花源", {"taohuayuan": 2}, {"taohuayuan"}),
    ("平行四边形", {"pxsbx": 2}, {"pxsbx"}),
    # title + type
    ("勾股定理 课件", {"gg_kj": 2, "gg_ni": 1}, {"gg_kj"}),
    ("勾股定理 教案", {"gg_ja": 2}, {"gg_ja"}),
    ("勾股定理 教学设计", {"gg_ja": 2}, {"gg_ja"}),
    ("细胞 导学案", {"xibao_dx": 2}, {"xibao_dx"}),
    ("压强 优质课", {"yali": 2}, {"yali"}),
    # subject + grade + edition combinations
    ("八年级 数学 人教版 勾股定理", {"gg_kj": 2, "gg_ja": 2, "gg_wk": 2, "gg_xt": 2, "gg_ni": 2, "trad_gg": 1}, {"gg_kj"}),
    ("初二数学勾股定理", {"gg_kj": 2, "gg_ja": 2, "gg_wk": 2, "gg_xt": 2, "gg_ni": 2, "trad_gg": 1}, {"gg_kj"}),
    ("一年级语文 秋天", {"qiutian": 2, "qiutian_ld": 2}, {"qiutian"}),
    ("九年级 化学", {"zlsh": 2}, {"zlsh"}),
    ("高一 数学 函数", {"fs_gz": 2}, {"fs_gz"}),
    # pinyin and initials
    ("gougudingli", {"gg_kj": 2, "gg_ja": 2, "gg_wk": 2, "gg_xt": 2, "gg_ni": 1}, {"gg_kj"}),
    ("gougu", {"gg_kj": 2, "gg_ja": 2, "gg_wk": 2, "gg_xt": 2, "gg_ni": 2}, {"gg_kj"}),
    ("ggdl", {"gg_kj": 2, "gg_ja": 2, "gg_wk": 2, "gg_xt": 2, "gg_ni": 1}, {"gg_kj"}),
    ("guanghezuoyong", {"ghzy": 2}, {"ghzy"}),
    ("qiutian", {"qiutian": 2, "qiutian_ld": 2}, {"qiutian"}),
    # traditional characters
    ("勾股定理 課件", {"gg_kj": 2, "gg_ni": 1}, {"gg_kj"}),
    ("光合作用 微課", {"ghzy": 2}, {"ghzy"}),
    ("檸檬", {"trad_book": 2}, {"trad_book"}),
    ("动画 勾股定理", {"trad_gg": 2}, {"trad_gg"}),
    # aliases and synonyms from the vocabularies
    ("部编版 秋天", {"qiutian": 2, "qiutian_ld": 2}, {"qiutian"}),
    ("初一 生物 细胞", {"xibao": 2, "xibao_dx": 2}, {"xibao", "xibao_dx"}),
    ("思品 七年级", {"dfz": 2}, {"dfz"}),
    ("人教A版 集合", {"jh_gz": 2}, {"jh_gz"}),
    ("PEP Unit 1", {"pep_u1": 2}, {"pep_u1"}),
    ("三年级 英语 colours", {"pep_u2": 2}, {"pep_u2"}),
    # ordinals
    ("第二单元 细胞", {"xibao": 2}, {"xibao"}),
    ("第1课 秋天", {"qiutian": 2, "qiutian_ld": 2}, {"qiutian"}),
    ("第十七章", {"gg_kj": 2, "gg_ja": 2, "gg_wk": 2, "gg_ni": 2}, {"gg_kj"}),
]
