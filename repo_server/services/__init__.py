"""Use-cases: each function takes the `Services` wiring and the acting `Actor`, checks
permissions, does one job in one transaction and returns plain data. The web views, the CLI
and the job queue all call these; none of them touches SQL or storage directly."""

from .actor import ANONYMOUS, Actor
from .context import Services

__all__ = ["ANONYMOUS", "Actor", "Services"]
