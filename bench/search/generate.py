"""A realistic synthetic district library, inserted in bulk straight into a fresh catalog.

Runs inside the project's virtualenv (it imports repo_server). `generate(data_dir, size)`
creates the data dir with `repo-server init` semantics (services.maintenance.initialise:
migrations + seeded vocabularies), then inserts organisations, users, blobs, extracted texts,
resources, tags and change-log rows with SQLAlchemy Core executemany, in chunks. Deterministic
for a given seed: the same size gives the same library on every run.

Realism choices (see bench/search/README.md):
- classification ids consistent with each other, from the seeded vocabularies: a lesson
  belongs to a subject and grades (lessons.py); the grade gives the 学段; the edition is one
  that publishes that subject in that stage (统编版 for 语文/道德与法治/历史, 人教A版 for 高中数学,
  PEP for 小学英语 …); the volume is 上册/下册 in compulsory grades and 必修/选择性必修 in 高中;
- subjects weighted as a district library is (语文, 数学 most; 书法, 劳动 least), resource
  types too (课件 and 教案 most, 教研资料 rare), file format following the type;
- titles from 1,172 real lesson names combined with the type or one of its aliases in a dozen
  patterns teachers use (“人教版数学八年级下册《勾股定理》课件”, “勾股定理（第2课时）导学案” …);
- a city → 8 counties → 240 schools tree; resources owned 65/25/10 % by schools, county
  teaching-research offices and the city; visibility 86 % public, 7 % organisation, 3 %
  private, 4 % drafts, 1 % deleted (tombstones);
- ~2 KB (UTF-8) of extracted text per resource, built from sentence templates per resource
  kind (lesson plan, slides, exercises, lecture transcript, material) around the lesson and
  its subject's vocabulary, with names of schools and teachers, page and exercise numbers;
- creation dates spread over five years (more recent ones more common), downloads
  heavy-tailed (most items rarely downloaded, a few very often);
- one "create" change per resource, an "update" for 10 %, a "delete" for the tombstones.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from lessons import SUBJECT_TERMS, lesson_table

__all__ = ["generate", "GENERATOR_VERSION", "library_info", "matching_library"]

GENERATOR_VERSION = 1
CHUNK = 2000
INFO_FILE = "bench-library.json"

SUBJECT_WEIGHTS = {"YW": 20, "SX": 20, "YY": 12, "WL": 6, "HX": 5, "SW": 5, "DF": 4, "LS": 4, "DL": 4,
                   "ZZ": 2, "KX": 4, "XXKJ": 2, "YYUE": 2, "MS": 2, "TY": 2, "LD": 1, "XLJK": 1, "SF": 1}
GRADE_STAGE = {**{f"G{i}": "XX" for i in range(1, 7)}, **{f"G{i}": "CZ" for i in (7, 8, 9)},
               **{f"G{i}": "GZ" for i in (10, 11, 12)}}
# (subject, stage) → editions with weights; "" means no edition recorded.
EDITIONS: dict[tuple[str, str], list[tuple[str, int]]] = {
    ("YW", "*"): [("统编版", 95), ("", 5)],
    ("DF", "*"): [("统编版", 95), ("", 5)],
    ("LS", "*"): [("统编版", 95), ("", 5)],
    ("ZZ", "*"): [("统编版", 95), ("", 5)],
    ("SX", "XX"): [("人教版", 50), ("北师大版", 25), ("苏教版", 15), ("青岛版", 10)],
    ("SX", "CZ"): [("人教版", 50), ("北师大版", 20), ("华东师大版", 10), ("苏科版", 10), ("沪科技版", 10)],
    ("SX", "GZ"): [("人教版（A版）", 60), ("人教版（B版）", 20), ("北师大版", 10), ("苏教版", 10)],
    ("YY", "XX"): [("人教版（PEP）（三年级起点）", 60), ("外研社版", 20), ("译林版", 20)],
    ("YY", "CZ"): [("人教版", 60), ("外研社版", 25), ("译林版", 15)],
    ("YY", "GZ"): [("人教版", 50), ("外研社版", 30), ("北师大版", 20)],
    ("WL", "CZ"): [("人教版", 60), ("沪科技版", 20), ("北师大版", 10), ("苏科版", 10)],
    ("WL", "GZ"): [("人教版", 70), ("鲁科版", 15), ("教科版", 15)],
    ("HX", "CZ"): [("人教版", 70), ("沪教版", 15), ("科学粤教版", 15)],
    ("HX", "GZ"): [("人教版", 70), ("鲁科版", 20), ("苏教版", 10)],
    ("SW", "CZ"): [("人教版", 70), ("北师大版", 15), ("苏科版", 15)],
    ("SW", "GZ"): [("人教版", 80), ("浙科版", 20)],
    ("DL", "CZ"): [("人教版", 60), ("湘教版", 25), ("商务星图版", 15)],
    ("DL", "GZ"): [("人教版", 50), ("湘教版", 30), ("中图版", 20)],
    ("KX", "*"): [("教科版", 70), ("苏教版", 30)],
    ("XXKJ", "*"): [("浙教版", 40), ("川教版", 30), ("闽教版", 30)],
    ("YYUE", "*"): [("人音版", 70), ("湘文艺版", 30)],
    ("MS", "*"): [("人美版", 60), ("湘美版", 20), ("岭南美版", 20)],
    ("TY", "*"): [("人教版", 60), ("", 40)],
    ("LD", "*"): [("人教版", 50), ("", 50)],
    ("XLJK", "*"): [("", 100)],
    ("SF", "*"): [("人美版", 50), ("", 50)],
}
SENIOR_VOLUMES = {"YW": ["必修 上册", "必修 下册", "选择性必修 上册", "选择性必修 中册", "选择性必修 下册"]}
SENIOR_DEFAULT = ["必修 第一册", "必修 第二册", "选择性必修 第一册", "选择性必修 第二册", "选择性必修 第三册"]
# type code → weight, formats (family, extension, mime, weight), text kind
TYPES: dict[str, tuple[int, list[tuple[str, str, str, int]], str]] = {
    "KJ": (30, [("presentation", "pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation", 85),
                ("presentation", "ppt", "application/vnd.ms-powerpoint", 10), ("document", "pdf", "application/pdf", 5)], "slides"),
    "JA": (20, [("document", "docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", 80),
                ("document", "doc", "application/msword", 15), ("document", "pdf", "application/pdf", 5)], "plan"),
    "XA": (10, [("document", "docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", 90),
                ("document", "pdf", "application/pdf", 10)], "plan"),
    "WK": (10, [("video", "mp4", "video/mp4", 100)], "talk"),
    "KTSL": (5, [("video", "mp4", "video/mp4", 100)], "talk"),
    "XT": (10, [("document", "docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", 70),
                ("document", "pdf", "application/pdf", 30)], "exercise"),
    "SJ": (8, [("document", "docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", 60),
               ("document", "pdf", "application/pdf", 40)], "exercise"),
    "SC": (5, [("image", "jpg", "image/jpeg", 50), ("audio", "mp3", "audio/mpeg", 30), ("video", "mp4", "video/mp4", 20)], "material"),
    "DZJC": (1, [("document", "pdf", "application/pdf", 100)], "material"),
    "JY": (1, [("document", "docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", 100)], "plan"),
}
COUNTIES = ["城关区", "江北区", "江南区", "高新区", "临江县", "青山县", "白河县", "石门县"]
TOWNS = ["柳溪", "石桥", "黄田", "清水", "马坪", "龙泉", "新塘", "杨庄", "桃源", "松岗", "白沙", "双河",
         "古城", "铁山", "花园", "长乐", "望江", "金鸡", "高坡", "太平"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华建国文红梅玉兵志鹏辉海燕雪琳晓春宇浩晨欣怡佳慧婷颖"
GENERAL_TAGS = ["公开课", "优质课", "新课标", "核心素养", "大单元教学", "新授课", "复习课", "期中复习", "期末复习",
                "中考复习", "高考复习", "双减", "作业设计", "跨学科", "项目式学习", "情境教学", "分层作业", "名师课堂",
                "校本教研", "集体备课", "同步练习", "思维导图", "微课视频", "实验探究", "课后服务"]
TYPE_TITLE_WORDS = {  # what teachers call each type in titles (name first, then vocabulary aliases)
    "KJ": ["课件", "PPT课件", "课件", "优质课件", "PPT"], "JA": ["教案", "教学设计", "教案", "说课稿", "教学设计"],
    "XA": ["学案", "导学案", "导学案", "学习任务单", "预习单"], "WK": ["微课", "微课视频", "微课"],
    "KTSL": ["课堂实录", "优质课", "公开课", "录像课"], "XT": ["习题", "课后练习", "同步练习", "作业"],
    "SJ": ["单元测试", "试卷", "期中试卷", "期末试卷", "测试卷"], "SC": ["素材", "图片素材", "音频素材", "素材"],
    "DZJC": ["电子课本", "电子教材"], "JY": ["教学反思", "教研资料", "听评课记录"],
}
CN_NUM = "一二三四五六七八九十"

# -- body text templates: {L} lesson, {S} subject, {G} grade, {V} volume, {E} edition, {U} unit,
#    {a} {b} {c} subject terms, {n} {m} small numbers, {p} page, {X} school, {T} teacher
TEXTS: dict[str, list[str]] = {
    "plan": [
        "《{L}》教学设计。执教：{X} {T}。教材：{E}{S}{G}{V}第{U}单元。",
        "一、教学目标：1. 理解{a}的含义，能结合实例说明{b}与{c}的关系。",
        "2. 经历观察、比较、归纳的过程，掌握{L}的基本方法，提高{a}能力。",
        "3. 在合作交流中体会{S}学习的乐趣，培养严谨求实的态度。",
        "二、教学重点：{a}和{b}。教学难点：运用{c}解决实际问题。",
        "三、学情分析：学生在前面已经学习了{a}，对{b}有了初步认识，但对{c}的理解还不够深入。",
        "四、教学准备：多媒体课件、学习任务单、{a}相关材料。",
        "五、教学过程：（一）情境导入：教师出示与{L}有关的图片，提问：你发现了什么？",
        "（二）新知探究：活动{n}：小组合作，围绕{a}展开讨论，每组推选一名同学汇报。",
        "教师追问：{b}和{c}之间有什么联系？引导学生归纳出结论。",
        "（三）巩固练习：完成课本第{p}页练习第{n}题和第{m}题，同桌互相批改。",
        "（四）课堂小结：本节课我们学习了{L}，重点掌握了{a}，还有什么疑问？",
        "六、板书设计：{L}——{a}、{b}、{c}。",
        "七、作业布置：基础作业完成练习册第{p}页；拓展作业查阅{b}的相关资料。",
        "八、教学反思：本课以{a}为主线，学生参与积极，但{c}部分时间略显仓促，下次可适当调整。",
        "学习目标：能说出{a}的特点，会用{b}分析{L}中的问题。",
        "预习导学：阅读教材第{p}页至第{m}页，圈出{a}和{b}，写下不理解的地方。",
        "合作探究：结合{c}，说说你对{L}的理解，并与小组同学交流。",
        "达标检测：根据所学的{a}，完成下列{n}道题目。",
    ],
    "slides": [
        "{L}", "{E} {S} {G}{V}", "第{U}单元 {L} 第{n}课时", "学习目标", "1. 理解{a}。2. 掌握{b}。3. 会运用{c}。",
        "复习回顾：上节课我们学习了{a}，你还记得吗？", "情境导入：观察下面的图片，说一说你看到了什么。",
        "新课讲授：{L}", "探究一：{a}与{b}", "探究二：如何用{c}解决问题？", "合作交流：小组讨论{a}，时间{n}分钟。",
        "归纳总结：{a}是{S}学习中的重要内容，{b}是关键。", "典例精析：例{n} 已知{a}，求{b}。",
        "方法点拨：抓住{c}，注意{a}。", "当堂检测", "1. 下列关于{a}的说法中，正确的是哪一项？",
        "2. 请用{b}解释{L}中的现象。", "课堂小结：这节课你有什么收获？", "布置作业：课本第{p}页第{n}、{m}题。",
        "谢谢观看！{X} {T}",
    ],
    "exercise": [
        "{E}{S}{G}{V}第{U}单元《{L}》{kind}（时间：{n}0分钟 满分：100分）", "班级：______ 姓名：______ 学号：______",
        "一、选择题（每小题3分，共30分）", "{n}. 下列关于{a}的说法中，正确的是（ ）",
        "A. {a}与{b}无关 B. {b}决定{c} C. {c}是{a}的一部分 D. 以上说法都不对",
        "{m}. 在{L}中，{b}的作用是（ ）", "二、填空题（每空2分，共20分）", "{n}. {a}的定义是________，它与{c}的关系是________。",
        "三、判断题", "{m}. {b}一定大于{c}。（ ）", "四、解答题（共50分）",
        "{n}. （{m}分）阅读材料，结合{L}的知识，回答：{a}对{b}有什么影响？",
        "{m}. 请运用{c}的方法分析下列问题，并写出过程。", "参考答案：{n}. B {m}. C 解析：本题考查{a}，关键是理解{b}。",
    ],
    "talk": [
        "同学们好，我是{X}的{T}老师，今天我们一起来学习《{L}》。",
        "上课之前，我们先来回顾一下{a}。还记得{b}是什么意思吗？",
        "请大家观察屏幕上的这幅图，想一想，{a}和{b}有什么关系？",
        "好，这位同学说得很好，{c}确实是我们今天要重点理解的内容。",
        "接下来我们看教材第{p}页，请大家默读这一段，找出关于{a}的句子。",
        "老师：谁来说一说你的发现？学生：我发现{b}和{c}是有联系的。",
        "我们来做一个小实验，大家注意观察{a}的变化。",
        "这就是{L}的关键：抓住{b}，就能理解{c}。",
        "下面请大家完成学习任务单上的第{n}题，时间{m}分钟。",
        "我们来总结一下这节课的内容：第一，{a}；第二，{b}；第三，{c}。",
        "课后请完成练习第{n}题，下节课我们继续学习。同学们再见！",
    ],
    "material": [
        "{L}教学素材说明。适用：{E}{S}{G}{V}第{U}单元。", "素材内容：与{a}有关的图片{n}张、音频{m}段、文字资料若干。",
        "使用建议：可在导入环节展示，引导学生关注{b}。", "资料来源：{X}{S}教研组整理，{T}提供。",
        "拓展阅读：{a}的由来与发展，{b}在生活中的应用，{c}相关的小故事。",
        "教材第{p}页插图的高清版本，可用于讲解{L}。", "注：本素材仅供教学使用，请勿用于商业用途。",
    ],
}
TITLE_PATTERNS = [
    ("{L}{t}", 18), ("{L} {t}", 12), ("《{L}》{t}", 14), ("{E}{S}{G}{V}《{L}》{t}", 12),
    ("{S}{G}{V}{L}{t}", 8), ("{L}（第{n}课时）{t}", 8), ("第{U}单元 {L} {t}", 6), ("{E}{G}{S}{L}{t}", 6),
    ("{y}年{C}优质课评比 {L} {t}", 3), ("{L}{t}（{X}）", 5), ("{G}{S}《{L}》{t}（{T}）", 4), ("{L}{t}{y}新版", 4),
]


class _Picker:
    """Weighted choice with precomputed cumulative weights (random.choices is slower per call)."""

    def __init__(self, rng: random.Random, items: list[tuple[Any, int]]) -> None:
        from itertools import accumulate
        self.rng, self.items = rng, [i for i, _ in items]
        self.cum = list(accumulate(w for _, w in items))

    def __call__(self) -> Any:
        import bisect
        return self.items[bisect.bisect_right(self.cum, self.rng.random() * self.cum[-1])]


def _person(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))


def _organisations(rng: random.Random) -> list[dict]:
    now = datetime(2021, 1, 1, tzinfo=timezone.utc)
    orgs = [{"id": 1, "name": "临江市教育局", "kind": "city", "parent_id": None, "path": "/1/", "created_at": now}]
    next_id = 2
    for county in COUNTIES:
        cid = next_id
        next_id += 1
        orgs.append({"id": cid, "name": f"{county}教育局", "kind": "county", "parent_id": 1,
                     "path": f"/1/{cid}/", "created_at": now})
        towns = rng.sample(TOWNS, 10)
        names = [f"{county}第一中学", f"{county}第二中学"]
        names += [f"{county}第{CN_NUM[i]}初级中学" for i in range(4)] + [f"{county}实验中学"]
        names += [f"{town}镇中学" for town in towns[:3]]
        names += [f"{county}实验小学", f"{county}第一小学", f"{county}第二小学", f"{county}第三小学"]
        names += [f"{town}镇中心小学" for town in towns] + [f"{town}村小学" for town in towns[:6]]
        for name in names:
            orgs.append({"id": next_id, "name": name, "kind": "school", "parent_id": cid,
                         "path": f"/1/{cid}/{next_id}/", "created_at": now})
            next_id += 1
    return orgs


def _users(rng: random.Random, orgs: list[dict]) -> list[dict]:
    now = datetime(2021, 1, 1, tzinfo=timezone.utc)
    users, uid = [], 1
    for org in orgs:
        plan = {"city": [("editor", 3), ("admin", 1)], "county": [("editor", 2)],
                "school": [("editor", 2), ("teacher", 3)]}[org["kind"]]
        for role, count in plan:
            for n in range(count):
                users.append({"id": uid, "username": f"u{org['id']}-{role}-{n}", "display_name": _person(rng),
                              "password_hash": None, "role": role, "org_id": org["id"], "active": True,
                              "session_version": 1, "created_at": now, "last_login_at": None})
                uid += 1
    return users


def library_info(data_dir: Path) -> dict | None:
    try:
        return json.loads((data_dir / INFO_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def matching_library(data_dir: Path, size: int, seed: int = 20261122) -> dict | None:
    """The info of a complete library generated earlier with these parameters, or None."""
    info = library_info(data_dir)
    if info and (info.get("size"), info.get("seed"), info.get("generator_version")) == (size, seed, GENERATOR_VERSION):
        return info
    return None


def generate(data_dir: Path, size: int, *, seed: int = 20261122, progress=print) -> dict:
    """Create `data_dir` with a library of `size` resources; return what was made."""
    from sqlalchemy import create_engine, event, text

    from repo_server.catalog.models import (Blob, BlobText, Change, ChangeCounter, Organisation,
                                            Resource, ResourceTag, User)
    from repo_server.catalog.vocab import VocabIndex
    from repo_server.config import Settings
    from repo_server.services.context import Services
    from repo_server.services.maintenance import initialise

    started = time.perf_counter()
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / INFO_FILE).unlink(missing_ok=True)
    settings = Settings.from_env({}, data_dir=data_dir)
    svc = Services.open(settings)
    initialise(svc)  # exactly what `repo-server init` does: migrate, seed vocabularies
    with svc.catalog.read() as session:
        vocab = VocabIndex.load(session)
    svc.close()

    def term_id(scheme: str, name: str) -> int | None:
        if not name:
            return None
        term = vocab.find_exact(scheme, name)
        if term is None:
            raise SystemExit(f"bench: the seeded vocabulary has no {scheme} {name!r}")
        return term.id

    rng = random.Random(seed)
    names = {s: {t.code: t for t in vocab.terms(s)} for s in ("stage", "grade", "subject", "type")}
    subject_name = {code: t.name for code, t in names["subject"].items()}
    grade_name = {code: t.name for code, t in names["grade"].items()}
    type_name = {code: t.name for code, t in names["type"].items()}

    lessons_by_subject: dict[str, list] = {}
    for subject, grades, unit, lesson in lesson_table():
        lessons_by_subject.setdefault(subject, []).append((grades, unit, lesson))
    # 高中 volume per lesson: the position in the subject's 高中 list, in five parts.
    senior_volume: dict[tuple[str, str], str] = {}
    for subject, entries in lessons_by_subject.items():
        senior = [e for e in entries if e[0][0] == "G10"]
        volumes = SENIOR_VOLUMES.get(subject, SENIOR_DEFAULT)
        for i, (_, _, lesson) in enumerate(senior):
            senior_volume[(subject, lesson)] = volumes[min(i * len(volumes) // max(len(senior), 1), len(volumes) - 1)]
    pick_subject = _Picker(rng, list(SUBJECT_WEIGHTS.items()))
    pick_type = _Picker(rng, [(code, spec[0]) for code, spec in TYPES.items()])
    pick_format = {code: _Picker(rng, [(f[:3], f[3]) for f in spec[1]]) for code, spec in TYPES.items()}
    pick_edition = {key: _Picker(rng, value) for key, value in EDITIONS.items()}
    pick_title = _Picker(rng, TITLE_PATTERNS)
    edition_ids = {name: term_id("edition", name) for values in EDITIONS.values() for name, _ in values}
    volume_ids = {name: term_id("volume", name)
                  for name in ["上册", "下册", "全一册", *SENIOR_DEFAULT, *SENIOR_VOLUMES["YW"]]}

    orgs = _organisations(rng)
    users = _users(rng, orgs)
    editors_of: dict[int, list[dict]] = {}
    for user in users:
        if user["role"] == "editor":
            editors_of.setdefault(user["org_id"], []).append(user)
    schools = [o for o in orgs if o["kind"] == "school"]
    schools_of = {"XX": [o for o in schools if "小学" in o["name"]],
                  "CZ": [o for o in schools if "初级中学" in o["name"] or "镇中学" in o["name"] or "实验中学" in o["name"]],
                  "GZ": [o for o in schools if o["name"].endswith(("第一中学", "第二中学"))]}
    counties = [o for o in orgs if o["kind"] == "county"]
    org_name = {o["id"]: o["name"] for o in orgs}
    county_of = {o["id"]: org_name[o["parent_id"]].replace("教育局", "") for o in schools}

    engine = create_engine(settings.catalog_url)

    @event.listens_for(engine, "connect")
    def _fast(dbapi_connection, _record) -> None:  # bulk load: the product's settings are for OLTP
        dbapi_connection.execute("PRAGMA journal_mode=WAL")
        dbapi_connection.execute("PRAGMA synchronous=OFF")
        dbapi_connection.execute("PRAGMA cache_size=-262144")

    with engine.begin() as conn:
        conn.execute(Organisation.__table__.insert(), orgs)
        conn.execute(User.__table__.insert(), users)

    end = datetime(2026, 11, 1, tzinfo=timezone.utc)
    span_s = 5 * 365 * 86400
    seq = 0
    counts = {"resources": 0, "deleted": 0, "blobs": 0, "texts": 0, "tags": 0, "changes": 0,
              "text_bytes": 0, "visibility": {}, "shared_blobs": 0}
    recent_blobs: list[tuple[str, str]] = []
    made = 0
    while made < size:
        n = min(CHUNK, size - made)
        resources, blobs, texts, tags, changes = [], [], [], [], []
        for i in range(made, made + n):
            subject = pick_subject()
            grades, unit, lesson = rng.choice(lessons_by_subject[subject])
            grade = rng.choice(grades)
            stage = GRADE_STAGE[grade]
            edition = (pick_edition.get((subject, stage)) or pick_edition[(subject, "*")])()
            if stage == "GZ":
                volume = senior_volume.get((subject, lesson), "必修 第一册")
                grade = "G10" if volume.startswith("必修") else \
                    "G12" if "第三册" in volume or "下册" in volume else "G11"
            elif subject == "WL" and grade == "G9" or subject in {"XLJK", "SF", "LD"}:
                volume = "全一册"
            else:
                volume = "上册" if unit <= 4 or rng.random() < 0.5 and unit % 2 else "下册"
            if rng.random() < 0.04:
                volume = ""  # some uploads carry no 册次
            type_code = pick_type()
            family, ext, mime = pick_format[type_code]()
            kind = TYPES[type_code][2]
            # owner: a school (65 %), a county teaching-research office (25 %), the city (10 %)
            r = rng.random()
            org = rng.choice(schools_of[stage]) if r < 0.65 else rng.choice(counties) if r < 0.9 else orgs[0]
            owner = rng.choice(editors_of[org["id"]])
            school = org["name"] if org["kind"] == "school" else rng.choice(schools_of[stage])["name"]
            teacher = _person(rng)
            created = end - timedelta(seconds=span_s * (1 - rng.random() ** 0.6))
            ctx = {"L": lesson, "S": subject_name[subject], "G": grade_name[grade], "V": volume.replace(" ", ""),
                   "E": edition, "U": CN_NUM[(unit - 1) % 10], "X": school, "T": teacher,
                   "C": county_of.get(org["id"], "临江市"), "y": created.year,
                   "n": rng.randint(1, 9), "m": rng.randint(2, 12), "p": rng.randint(3, 160)}
            title = pick_title().format(t=rng.choice(TYPE_TITLE_WORDS[type_code]), **ctx)
            title = " ".join(title.split())
            # visibility: 86 % public, 7 % organisation, 3 % private, 4 % drafts
            r = rng.random()
            visibility, status = (("public", "published") if r < 0.86 else ("organisation", "published")
                                  if r < 0.93 else ("private", "published") if r < 0.96 else ("public", "draft"))
            counts["visibility"][f"{visibility}/{status}"] = counts["visibility"].get(f"{visibility}/{status}", 0) + 1
            deleted = created + timedelta(days=rng.randint(1, 300)) if rng.random() < 0.01 else None
            rid = "%032x" % rng.getrandbits(128)
            if recent_blobs and rng.random() < 0.02:  # the same file filed again under another lesson
                sha, body = rng.choice(recent_blobs)
                counts["shared_blobs"] += 1
            else:
                sha = hashlib.sha256(f"bench-{seed}-{i}".encode()).hexdigest()
                body = _body(rng, kind, ctx, SUBJECT_TERMS[subject], type_name[type_code])
                blobs.append({"sha256": sha, "size": rng.randint(40_000, 80_000_000 if family == "video" else 8_000_000),
                              "mime": mime, "original_filename": f"{title}.{ext}", "created_at": created})
                texts.append({"sha256": sha, "status": "done", "text": body, "chars": len(body), "truncated": False,
                              "extractor": {"pptx": "pptx", "docx": "docx", "pdf": "pdf"}.get(ext, "bench"),
                              "message": "", "extracted_at": created})
                counts["text_bytes"] += len(body.encode())
                recent_blobs.append((sha, body))
                if len(recent_blobs) > 500:
                    recent_blobs.pop(0)
            unit_word = "章" if subject in {"SX", "WL", "HX"} and stage != "XX" else "单元"
            resources.append({
                "id": rid, "title": title[:500],
                "description": _description(rng, ctx, type_name[type_code]),
                "creator": teacher, "publisher": school, "language": "zh-CN", "license": "",
                "date": str(created.year), "stage_id": names["stage"][stage].id, "grade_id": names["grade"][grade].id,
                "subject_id": names["subject"][subject].id, "edition_id": edition_ids[edition] if edition else None,
                "volume_id": volume_ids[volume] if volume else None, "type_id": names["type"][type_code].id,
                "chapter": f"第{ctx['U']}{unit_word}", "lesson": lesson, "visibility": visibility, "status": status,
                "org_id": org["id"], "owner_id": owner["id"], "blob_sha256": sha, "filename": f"{title[:200]}.{ext}",
                "format": family, "download_count": _downloads(rng), "created_at": created,
                "updated_at": created, "deleted_at": deleted})
            for tag in _tags(rng, subject, lesson):
                tags.append({"resource_id": rid, "tag": tag})
            seq += 1
            changes.append({"seq": seq, "resource_id": rid, "op": "create", "at": created, "actor_id": owner["id"]})
            if rng.random() < 0.1:
                seq += 1
                changes.append({"seq": seq, "resource_id": rid, "op": "update",
                                "at": created + timedelta(hours=rng.randint(1, 500)), "actor_id": owner["id"]})
            if deleted:
                seq += 1
                counts["deleted"] += 1
                changes.append({"seq": seq, "resource_id": rid, "op": "delete", "at": deleted, "actor_id": owner["id"]})
        with engine.begin() as conn:
            if blobs:
                conn.execute(Blob.__table__.insert(), blobs)
                conn.execute(BlobText.__table__.insert(), texts)
            conn.execute(Resource.__table__.insert(), resources)
            if tags:
                conn.execute(ResourceTag.__table__.insert(), tags)
            conn.execute(Change.__table__.insert(), changes)
        made += n
        counts["resources"] += n
        counts["blobs"] += len(blobs)
        counts["texts"] += len(texts)
        counts["tags"] += len(tags)
        counts["changes"] += len(changes)
        if made % 50_000 < CHUNK or made == size:
            progress(f"bench: generated {made:,}/{size:,} resources "
                     f"({time.perf_counter() - started:.0f} s)")
    with engine.begin() as conn:
        conn.execute(ChangeCounter.__table__.update().where(ChangeCounter.id == 1).values(value=seq))
        if not conn.execute(text("SELECT count(*) FROM change_counter")).scalar():
            conn.execute(ChangeCounter.__table__.insert(), [{"id": 1, "value": seq}])
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    db = data_dir / "catalog.sqlite3"
    info = {"size": size, "seed": seed, "generator_version": GENERATOR_VERSION,
            "seconds": round(time.perf_counter() - started, 1), "counts": counts,
            "organisations": len(orgs), "users": len(users), "catalog_bytes": db.stat().st_size,
            "mean_text_bytes": round(counts["text_bytes"] / max(counts["texts"], 1))}
    (data_dir / INFO_FILE).write_text(json.dumps(info, ensure_ascii=False, indent=2), encoding="utf-8")
    return info


def _downloads(rng: random.Random) -> int:
    if rng.random() < 0.3:
        return 0
    return min(int(rng.paretovariate(1.1)) - 1 + rng.randint(0, 3), 20_000)


def _tags(rng: random.Random, subject: str, lesson: str) -> list[str]:
    chosen = rng.sample(GENERAL_TAGS, rng.choice((0, 1, 1, 2, 2, 3)))
    if rng.random() < 0.5:
        chosen.append(rng.choice(SUBJECT_TERMS[subject]))
    if rng.random() < 0.2:
        chosen.append(lesson[:60])
    return list(dict.fromkeys(chosen))


def _description(rng: random.Random, ctx: dict, type_name: str) -> str:
    if rng.random() < 0.25:
        return ""  # many uploads have no description
    parts = [f"本资源为{ctx['E']}{ctx['S']}{ctx['G']}{ctx['V']}第{ctx['U']}单元《{ctx['L']}》的{type_name}",
             rng.choice(["，适用于新授课。", "，可用于复习课。", "，配套课堂练习。", "，附教学反思。", "。"])]
    if rng.random() < 0.5:
        parts.append(f"由{ctx['X']}{ctx['T']}老师制作，" + rng.choice(
            ["获区级优质课一等奖。", "经教研组集体备课修改。", "欢迎老师们下载使用。", "内容完整，可直接使用。"]))
    return "".join(parts)


def _body(rng: random.Random, kind: str, ctx: dict, terms: list[str], type_name: str) -> str:
    """~2 KB (UTF-8) of text in the style of `kind`, around the lesson and its subject."""
    header, *templates = TEXTS[kind]
    target = rng.randint(1400, 2700)
    ctx = dict(ctx, kind=type_name)
    out: list[str] = [header.format(**ctx)]
    size = len(out[0].encode())
    i = 0
    while size < target:
        # mostly in document order, sometimes a random sentence (documents repeat sections)
        template = templates[i % len(templates)] if rng.random() < 0.7 else rng.choice(templates)
        i += 1
        ctx["a"], ctx["b"], ctx["c"] = rng.choice(terms), rng.choice(terms), rng.choice(terms)
        ctx["n"], ctx["m"], ctx["p"] = rng.randint(1, 9), rng.randint(2, 12), rng.randint(3, 160)
        sentence = template.format(**ctx)
        out.append(sentence)
        size += len(sentence.encode()) + 1
    return "\n".join(out)
