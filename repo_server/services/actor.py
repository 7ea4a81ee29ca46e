"""Who is acting: a small immutable view of a user (or of an anonymous visitor)."""

from __future__ import annotations

from dataclasses import dataclass

from repo_server.catalog.models import User

__all__ = ["Actor", "ANONYMOUS", "OPERATOR"]


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    username: str
    role: str                     # admin, editor, teacher; "" for anonymous
    org_id: int | None
    org_path: str = ""            # "/1/4/9/": the actor's organisation and its ancestors
    display_name: str = ""

    @classmethod
    def of(cls, user: User) -> "Actor":
        return cls(user_id=user.id, username=user.username, role=user.role, org_id=user.org_id,
                   org_path=user.org.path if user.org else "", display_name=user.display_name)

    @property
    def anonymous(self) -> bool:
        return self.user_id is None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_editor(self) -> bool:
        """Editors and admins upload, tag and review."""
        return self.role in {"admin", "editor"}

    @property
    def org_ancestor_ids(self) -> list[int]:
        """The actor's organisation and every organisation above it."""
        return [int(part) for part in self.org_path.strip("/").split("/") if part]


ANONYMOUS = Actor(user_id=None, username="", role="", org_id=None)

#: The person at the server's command line (`repo-server …`): an administrator by definition,
#: since they can read the database and the data directory anyway. Not a user account.
OPERATOR = Actor(user_id=0, username="(operator)", role="admin", org_id=None)
