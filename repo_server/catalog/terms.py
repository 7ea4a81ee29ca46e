"""Controlled vocabularies (学段, 年级, 学科, 教材版本, 册次, 资源类型) and their aliases.

Lookups go through `key`, a normalised form of the name (NFKC, no whitespace, case-folded),
so "必修第一册", "必修 第一册" and "必修　第一册" are the same term, as are "PEP" and "pep".
"""

from __future__ import annotations

import unicodedata
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base

__all__ = ["VocabTerm", "VocabAlias", "SCHEMES", "term_key"]

# scheme → Chinese label; the order is the catalog tree's order.
SCHEMES = {
    "stage": "学段",
    "subject": "学科",
    "edition": "教材版本",
    "grade": "年级",
    "volume": "册次",
    "type": "资源类型",
}


def term_key(text: str) -> str:
    """The lookup key of a term name or alias."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if not ch.isspace())


class VocabTerm(Base):
    __tablename__ = "vocab_terms"
    __table_args__ = (
        UniqueConstraint("scheme", "code", name="uq_vocab_terms_scheme_code"),
        UniqueConstraint("scheme", "key", name="uq_vocab_terms_scheme_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scheme: Mapped[str] = mapped_column(String(20))
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer, default=0)
    # Extra facts from the seed: a grade's stage, a subject's stages, an edition's publisher.
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    aliases: Mapped[list["VocabAlias"]] = relationship(
        back_populates="term", cascade="all, delete-orphan", order_by="VocabAlias.id")

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name}


class VocabAlias(Base):
    """Another name for a term. The same alias may name terms in different stages
    (信息技术 is 小学/初中 信息科技 and 高中 信息技术); resolution then uses the stage."""

    __tablename__ = "vocab_aliases"
    __table_args__ = (
        UniqueConstraint("term_id", "key", name="uq_vocab_aliases_term_key"),
        Index("ix_vocab_aliases_key", "key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    term_id: Mapped[int] = mapped_column(ForeignKey("vocab_terms.id", ondelete="CASCADE"))
    alias: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(100))

    term: Mapped[VocabTerm] = relationship(back_populates="aliases")
