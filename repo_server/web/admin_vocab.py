"""Vocabulary pages: /admin/vocab?scheme=… (terms with aliases; add a term, add and remove
aliases) and /admin/vocab/<term id> (rename). Who may do what: services.vocabularies."""

from __future__ import annotations

from flask import render_template, request
from flask_babel import gettext as _
from flask_login import login_required

from repo_server.catalog.models import SCHEMES
from repo_server.errors import NotFound, RepoError
from repo_server.services import vocabularies

from .admin import bp, done, form_failure, svc
from .auth import current_actor
from .labels import FIELD_LABELS

__all__ = ["vocab", "add_term", "add_alias", "remove_alias", "term_page", "rename_term"]


def _scheme() -> str:
    scheme = request.values.get("scheme", "subject")
    return scheme if scheme in SCHEMES else "subject"


def _vocab_context(scheme: str, **extra) -> dict:
    return dict(scheme=scheme, schemes=[(s, FIELD_LABELS[s]) for s in SCHEMES],
                terms=vocabularies.scheme_terms(svc(), current_actor(), scheme), **extra)


@bp.get("/vocab")
@login_required
def vocab():
    return render_template("admin_vocab.html", values={}, errors=[], **_vocab_context(_scheme()))


@bp.post("/vocab")
@login_required
def add_term():
    form, scheme = request.form, _scheme()
    aliases = [a.strip() for a in form.get("aliases", "").replace("，", ",").split(",") if a.strip()]
    try:
        term = vocabularies.create_term(svc(), current_actor(), scheme, form.get("name", ""),
                                        aliases=aliases)
    except RepoError as exc:
        return form_failure(exc, "admin_vocab.html", **_vocab_context(scheme))
    return done(_("已添加词条 %(name)s", name=term["name"]), "admin.vocab", scheme=scheme)


def _term_context(term_id: int, **extra) -> dict:
    term = vocabularies.term_detail(svc(), current_actor(), term_id)
    return _vocab_context(term["scheme"], term=term, **extra)


@bp.post("/vocab/<int:term_id>/aliases")
@login_required
def add_alias(term_id: int):
    try:
        term = vocabularies.add_alias_to(svc(), current_actor(), term_id, request.form.get("alias", ""))
    except RepoError as exc:
        if isinstance(exc, NotFound):
            raise
        return form_failure(exc, "admin_vocab.html", alias_term=term_id, **_term_context(term_id))
    return done(_("已添加别名；%(count)s 个资源将重新编入搜索索引", count=term["reindexed"]),
                "admin.vocab", scheme=term["scheme"], _anchor=f"term-{term_id}")


@bp.post("/vocab/<int:term_id>/aliases/<int:alias_id>/delete")
@login_required
def remove_alias(term_id: int, alias_id: int):
    try:
        term = vocabularies.remove_alias_from(svc(), current_actor(), term_id, alias_id)
    except RepoError as exc:
        if isinstance(exc, NotFound):
            raise
        return form_failure(exc, "admin_vocab.html", **_term_context(term_id))
    return done(_("已删除别名；%(count)s 个资源将重新编入搜索索引", count=term["reindexed"]),
                "admin.vocab", scheme=term["scheme"], _anchor=f"term-{term_id}")


@bp.get("/vocab/<int:term_id>")
@login_required
def term_page(term_id: int):
    vocabularies.require_vocab_admin(current_actor())
    return render_template("admin_term.html", values={}, errors=[], **_term_context(term_id))


@bp.post("/vocab/<int:term_id>/rename")
@login_required
def rename_term(term_id: int):
    form = request.form
    try:
        term = vocabularies.rename(svc(), current_actor(), term_id, form.get("name", ""),
                                   keep_old_as_alias=form.get("keep_old") == "1")
    except RepoError as exc:
        if isinstance(exc, NotFound):
            raise
        return form_failure(exc, "admin_term.html", **_term_context(term_id))
    return done(_("已改名为 %(name)s；%(count)s 个资源将重新编入搜索索引", name=term["name"],
                  count=term["reindexed"]), "admin.vocab", scheme=term["scheme"],
                _anchor=f"term-{term_id}")
