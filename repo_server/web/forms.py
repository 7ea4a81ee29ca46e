"""What the HTML forms share when a service refuses: the same form again, with each problem
in the visitor's language (error_texts.py), what the person typed, and the error's status.

Every form page (metadata edit, upload, the administration pages) answers a refusal this
way, so nothing typed is lost and nobody sees a service's English message.
"""

from __future__ import annotations

from typing import Any

from flask import render_template, request

from repo_server.errors import RepoError

from .error_texts import shown_errors
from .errors import status_for

__all__ = ["form_failure"]


def form_failure(exc: RepoError, template: str, **context: Any):
    """The form again, with the problems (`errors`), the typed values (`values`, the
    submitted form unless given) and the error's status. Server failures are not form
    problems: they go to the error pages."""
    status = status_for(exc)
    if status >= 500:
        raise exc
    context.setdefault("values", request.form)
    return render_template(template, errors=shown_errors(exc), **context), status
