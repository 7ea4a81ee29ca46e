"""The CSRF guard (Flask-WTF), shared by the HTML forms and the session-authenticated API."""

from flask_wtf.csrf import CSRFProtect

__all__ = ["csrf"]

csrf = CSRFProtect()
