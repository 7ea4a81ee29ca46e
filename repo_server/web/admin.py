"""The administration pages' blueprint and what its forms share: the blueprint itself, the
"render the form again with the problem and the typed values" answer (forms.py, shared with
the other form pages) and the "done, back to the page" one.

The routes live beside it, one module per subject: admin_users.py, admin_orgs.py,
admin_vocab.py. Permission checks are in the services (user_admin, organisations,
vocabularies); these views parse, call one service, render.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, url_for

from .forms import form_failure

__all__ = ["bp", "svc", "form_failure", "done", "int_or_none"]

bp = Blueprint("admin", __name__, url_prefix="/admin")


def svc():
    return current_app.extensions["repo"]


def done(message: str, endpoint: str, **values: Any):
    """After a change: say what happened and go back to a page (POST → redirect → GET)."""
    flash(message, "ok")
    return redirect(url_for(endpoint, **values), 303)


def int_or_none(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() else None
