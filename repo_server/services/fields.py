"""The metadata fields of a resource, declared once: API parameters, form inputs, CSV
columns and the OpenAPI document all come from `FIELDS`.

Text is plain text: normalised to NFC, control characters refused, and markup refused with a
clear message ("<script>" in a title is never what a teacher meant). Chinese quotation marks
typed as << >> and inequalities like a<b stay allowed: only tag-shaped text is markup.

Every refusal names its `field` and a `reason` with the values its explanation needs
(length and max_length, value and choices …): the English message is for the API and the
CLI, and the pages say the same in the visitor's language from the reason (web/error_texts.py).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from repo_server.catalog.models import STATUSES, VISIBILITIES
from repo_server.catalog.vocab import VocabIndex
from repo_server.errors import InvalidInput

__all__ = ["Field", "FIELDS", "FIELD_NAMES", "VOCAB_FIELDS", "parse_metadata", "split_tags"]


@dataclass(frozen=True)
class Field:
    name: str
    label: str              # Chinese label shown in forms
    kind: str               # text, longtext, vocab, choice, tags, date, language
    help: str
    max_length: int = 200
    choices: tuple[str, ...] = ()


FIELDS: tuple[Field, ...] = (
    Field("title", "标题", "text", "Title; defaults to the file name without extension.", 500),
    Field("description", "简介", "longtext", "Description (plain text).", 20000),
    Field("creator", "作者", "text", "Author(s), e.g. the teacher who made it."),
    Field("publisher", "来源单位", "text", "Publisher or source organisation."),
    Field("language", "语言", "language", "BCP 47 language tag (default zh-CN).", 35),
    Field("license", "版权/许可", "text", "License or rights statement, e.g. CC BY-NC 4.0."),
    Field("date", "日期", "date", "Date of the work: YYYY, YYYY-MM or YYYY-MM-DD.", 10),
    Field("stage", "学段", "vocab", "学段: name, code or alias (小学, 初中, 高中 …)."),
    Field("grade", "年级", "vocab", "年级: name, code or alias (三年级, 初一 …); implies the 学段."),
    Field("subject", "学科", "vocab", "学科: name, code or alias (数学, 生物 …)."),
    Field("edition", "教材版本", "vocab", "教材版本: name or alias (人教版, 部编版 …)."),
    Field("volume", "册次", "vocab", "册次 (上册, 下册, 必修 第一册 …)."),
    Field("chapter", "单元/章", "text", "Unit or chapter, e.g. 第一单元."),
    Field("lesson", "课", "text", "Lesson, e.g. 第3课 勾股定理."),
    Field("type", "资源类型", "vocab", "资源类型: name, code or alias (课件, 教案, 微课 …)."),
    Field("tags", "标签", "tags", "Free tags; repeat the field or separate with commas.", 60),
    Field("visibility", "可见范围", "choice",
          "public: everyone; organisation: the owning organisation and those under it; "
          "private: the owner and the editors responsible.", 12, VISIBILITIES),
    Field("status", "状态", "choice", "draft (awaiting review) or published.", 12, STATUSES),
)
FIELD_NAMES = tuple(f.name for f in FIELDS)
VOCAB_FIELDS = tuple(f.name for f in FIELDS if f.kind == "vocab")
_BY_NAME = {f.name: f for f in FIELDS}

# Chinese labels people type instead of the codes.
_CHOICE_ALIASES = {
    "公开": "public", "本单位": "organisation", "单位内": "organisation", "私有": "private",
    "仅自己": "private", "草稿": "draft", "待审核": "draft", "已发布": "published", "发布": "published",
}
# Markup = a bare tag (<b>, </p>, <br/>), a tag with an attribute assignment (<a href=…>),
# a comment, CDATA, a processing instruction or a javascript: URL. "a<b 且 b>c" is maths.
_MARKUP = re.compile(r"<\s*/?\s*[A-Za-z][\w:-]*\s*/?\s*>|<\s*[A-Za-z][\w:-]*\s[^<>]*=[^<>]*>|"
                     r"<!--|<!\[CDATA\[|<\?|javascript\s*:", re.IGNORECASE)
_DATE = re.compile(r"^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$")
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
_TAG_SEPARATORS = re.compile(r"[,，、;；]")
MAX_TAGS = 30


def split_tags(values: Iterable[str]) -> list[str]:
    """Tags from repeated values and/or comma-separated ones, trimmed, de-duplicated."""
    seen: dict[str, None] = {}
    for value in values:
        for part in _TAG_SEPARATORS.split(value or ""):
            part = unicodedata.normalize("NFC", part).strip()
            if part:
                seen.setdefault(part, None)
    return list(seen)


def _clean_text(field: Field, value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{field.name} must be text", field=field.name, reason="not_text")
    text = unicodedata.normalize("NFC", value).strip()
    allowed = {"\n", "\t", "\r"} if field.kind == "longtext" else {"\t"}
    if any((ord(ch) < 32 and ch not in allowed) or ord(ch) == 127 for ch in text):
        raise InvalidInput(f"{field.name} contains control characters", field=field.name,
                           reason="control_chars")
    if _MARKUP.search(text):
        raise InvalidInput(f"{field.name} contains HTML or script markup; write plain text",
                           field=field.name, reason="markup")
    if len(text) > field.max_length:
        raise InvalidInput(f"{field.name} is {len(text)} characters long; the limit is "
                           f"{field.max_length}", field=field.name, reason="too_long",
                           length=len(text), max_length=field.max_length)
    return text


def _parse_one(field: Field, value: Any, vocab: VocabIndex, stage: str | None) -> Any:
    if field.kind == "tags":
        values = value if isinstance(value, (list, tuple)) else [value]
        tags = [_clean_text(field, tag) for tag in split_tags(str(v) for v in values)]
        if len(tags) > MAX_TAGS:
            raise InvalidInput(f"at most {MAX_TAGS} tags", field="tags", reason="too_many_tags",
                               count=len(tags), maximum=MAX_TAGS)
        return tags
    text = _clean_text(field, value)
    if field.kind == "vocab":
        return vocab.resolve(field.name, text, stage=stage) if text else None
    if field.kind == "choice":
        choice = _CHOICE_ALIASES.get(text, text.lower())
        if choice not in field.choices:
            raise InvalidInput(f"{field.name} must be one of {', '.join(field.choices)} "
                               f"(got {text!r})", field=field.name, reason="choice", value=text,
                               choices=list(field.choices))
        return choice
    if field.kind == "date" and text and not _DATE.match(text):
        raise InvalidInput(f"date must be YYYY, YYYY-MM or YYYY-MM-DD (got {text!r})", field="date",
                           reason="date", value=text)
    if field.kind == "language" and text and not _LANGUAGE.match(text):
        raise InvalidInput(f"language must be a language tag like zh-CN (got {text!r})",
                           field="language", reason="language", value=text)
    return text


def parse_metadata(raw: Mapping[str, Any], vocab: VocabIndex) -> dict[str, Any]:
    """Validate the fields present in `raw`; vocabulary fields become VocabTerm objects.

    Every problem is collected, so a form can show them all at once: one problem raises it
    as is, several raise one InvalidInput listing them in `details['errors']`. Unknown field
    names are refused too (a typo like "titel" must not be silently dropped).
    """
    unknown = sorted(set(raw) - set(FIELD_NAMES))
    errors: list[InvalidInput] = [InvalidInput(f"unknown field {name!r}", field=name, reason="unknown_field")
                                  for name in unknown]
    result: dict[str, Any] = {}
    stage_code = None
    # Stage first: it settles aliases shared between stages in the other vocabularies.
    for name in sorted(set(raw) & set(FIELD_NAMES), key=lambda n: (n != "stage", n != "grade")):
        try:
            result[name] = _parse_one(_BY_NAME[name], raw[name], vocab, stage_code)
        except InvalidInput as exc:
            errors.append(exc)
            continue
        if name == "stage" and result[name] is not None:
            stage_code = result[name].code
        if name == "grade" and result[name] is not None and stage_code is None:
            stage_code = (result[name].data or {}).get("stage")
    _check_grade_in_stage(result, errors)
    if result.get("grade") is not None and "stage" not in raw:
        implied = (result["grade"].data or {}).get("stage")
        if implied:  # 初一 means 初中 even when nobody said so
            result["stage"] = vocab.find_exact("stage", implied)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise InvalidInput(f"{len(errors)} fields are invalid: " +
                           "; ".join(e.message for e in errors),
                           reason="fields", count=len(errors), errors=[e.as_dict() for e in errors])
    return result


def _check_grade_in_stage(result: dict[str, Any], errors: list[InvalidInput]) -> None:
    stage, grade = result.get("stage"), result.get("grade")
    if stage is None or grade is None:
        return
    grade_stage = (grade.data or {}).get("stage")
    # 五四学制: 六年级 belongs to 初中 there, so it fits both.
    if grade_stage and grade_stage != stage.code and not (grade.code == "G6" and stage.code == "CZ"):
        errors.append(InvalidInput(f"{grade.name} is not a grade of {stage.name}", field="grade",
                                   reason="grade_stage", grade=grade.name, stage=stage.name))
