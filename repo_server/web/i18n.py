"""Languages of the HTML pages: Simplified Chinese first, English on request (Flask-Babel).

The message ids are the Chinese texts themselves: Chinese is the product's language, the
templates read as the page does, and a text nobody translated yet still shows in Chinese
rather than as an English id. `translations/en/LC_MESSAGES/messages.po` carries English;
`scripts/update-translations` extracts, merges and compiles it, and a test fails when a
text is missing from the catalog or the compiled `.mo` is stale.

The language is the visitor's choice (the `lang` cookie set by `/lang/<code>`), else
Chinese: teachers on an English-language Windows still get the Chinese interface.
The JSON API is not translated (its messages are for programs and logs).
"""

from __future__ import annotations

from flask import Blueprint, Flask, make_response, redirect, request
from flask_babel import Babel

from .auth import safe_next

__all__ = ["LANGUAGES", "DEFAULT_LANGUAGE", "bp", "init_app", "current_language"]

#: Offered languages, the default first: code → its own name.
LANGUAGES = {"zh_CN": "中文", "en": "English"}
DEFAULT_LANGUAGE = "zh_CN"
COOKIE = "lang"
_YEAR = 365 * 24 * 3600

bp = Blueprint("i18n", __name__)
babel = Babel()


def current_language() -> str:
    """The language of this request: the visitor's choice when it is one we offer."""
    chosen = request.cookies.get(COOKIE, "")
    return chosen if chosen in LANGUAGES else DEFAULT_LANGUAGE


def html_lang(code: str) -> str:
    """The BCP 47 tag for `<html lang>`: zh_CN → zh-CN."""
    return code.replace("_", "-")


@bp.get("/lang/<code>")
def choose(code: str):
    """Remember a language for a year and go back to the page the visitor came from."""
    response = make_response(redirect(safe_next(request.args.get("next")), 303))
    if code in LANGUAGES:
        response.set_cookie(COOKIE, code, max_age=_YEAR, httponly=True, samesite="Lax")
    return response


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "Asia/Shanghai")
    babel.init_app(app, locale_selector=current_language)
    app.register_blueprint(bp)

    @app.context_processor
    def _languages():
        return {"languages": LANGUAGES, "language": current_language(), "html_lang": html_lang}
