"""The administration pages' blueprint and what its forms share: the blueprint itself, the
visitor's-language text for each refusal the services give (`reason` in the error's
details), and the "render the form again with the problem and the typed values" answer.

The routes live beside it, one module per subject: admin_users.py, admin_orgs.py,
admin_vocab.py. Permission checks are in the services (user_admin, organisations,
vocabularies); these views parse, call one service, render.
"""

from __future__ import annotations

from typing import Any, Callable

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from repo_server.errors import RepoError

from .errors import status_for
from .labels import ORG_KIND_LABELS

__all__ = ["bp", "svc", "error_text", "form_failure", "done", "int_or_none"]

bp = Blueprint("admin", __name__, url_prefix="/admin")


def svc():
    return current_app.extensions["repo"]


def _level_text(details: dict[str, Any]) -> str:
    kind = ORG_KIND_LABELS.get(details.get("kind") or "", details.get("kind") or "")
    parent = details.get("parent_kind")
    if parent is None:
        return _("%(kind)s必须位于上级单位之下（市 → 县 → 学校）", kind=kind)
    return _("%(kind)s不能位于%(parent)s之下（市 → 县 → 学校）", kind=kind,
             parent=ORG_KIND_LABELS.get(parent, parent))


# reason → text in the visitor's language; details fill the placeholders.
_TEXTS: dict[str, Callable[[dict[str, Any]], str]] = {
    "username_format": lambda d: _("用户名为 2–80 个字母、数字或 . _ @ -"),
    "username_taken": lambda d: _("用户名“%(username)s”已被使用", username=d.get("username", "")),
    "role": lambda d: _("请选择有效的角色"),
    "password_short": lambda d: _("密码至少需要 %(minimum)s 个字符", minimum=d.get("minimum", 8)),
    "org_missing": lambda d: _("所选单位不存在"),
    "assign_role": lambda d: _("编辑只能创建和管理教师账号"),
    "assign_org": lambda d: _("请选择您所在的单位或其下属单位"),
    "own_role": lambda d: _("不能修改自己的角色，请由另一位管理员操作"),
    "own_account": lambda d: _("不能停用自己的账号"),
    "not_manageable": lambda d: _("编辑只能管理教师账号"),
    "org_name": lambda d: _("单位名称不能为空，也不能包含“/”"),
    "org_kind": lambda d: _("请选择有效的单位级别"),
    "org_exists": lambda d: _("同一上级单位下已有“%(name)s”", name=d.get("name", "")),
    "org_level": _level_text,
    "org_cycle": lambda d: _("不能把单位移到它自己或它的下属单位之下"),
    "term_name": lambda d: _("名称不能为空，最多 100 个字符"),
    "term_taken": lambda d: _("“%(name)s”已是本词表中的词条或别名", name=d.get("name", "")),
    "alias_taken": lambda d: _("“%(alias)s”已是“%(term)s”的名称或别名", alias=d.get("alias", ""),
                               term=d.get("term", "")),
    "alias_empty": lambda d: _("别名不能为空，最多 100 个字符"),
    "scheme": lambda d: _("未知的词表"),
    "markup": lambda d: _("请填写纯文本，不能包含 HTML 标记或控制字符"),
}


def error_text(exc: RepoError) -> str:
    """What to tell a person about a refusal: our own words where we know the reason."""
    text = _TEXTS.get(exc.details.get("reason", ""))
    return text(exc.details) if text else exc.message


def form_failure(exc: RepoError, template: str, **context: Any):
    """The form again, with the problem, the typed values (`values`) and the right status.
    Server failures are not form problems: they go to the error pages."""
    status = status_for(exc)
    if status >= 500:
        raise exc
    context.setdefault("values", request.form)
    return render_template(template, errors=[{"field": exc.field, "message": error_text(exc)}],
                           **context), status


def done(message: str, endpoint: str, **values: Any):
    """After a change: say what happened and go back to a page (POST → redirect → GET)."""
    flash(message, "ok")
    return redirect(url_for(endpoint, **values), 303)


def int_or_none(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() else None
