"""Users, organisations and API tokens."""

from __future__ import annotations

import sys

import click

from repo_server.services import accounts, api_tokens
from repo_server.services.actor import OPERATOR

from .base import cli, handles_errors, open_services

__all__ = ["user", "org", "token"]


@cli.group()
def user() -> None:
    """Manage users."""


def _read_password(prompt: str = "Password") -> str:
    if sys.stdin.isatty():
        return click.prompt(prompt, hide_input=True, confirmation_prompt=True)
    return sys.stdin.readline().rstrip("\r\n")


@user.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(["admin", "editor", "teacher"]), required=True)
@click.option("--org", help="Organisation: id, path (市/县/校) or unique name.")
@click.option("--display-name", default="", help="Name shown in the interface.")
@click.option("--no-password", is_flag=True, help="Token-only account (mirrors, scripts).")
@handles_errors
def user_add(username: str, role: str, org: str | None, display_name: str, no_password: bool) -> None:
    """Add a user; the password is read from stdin when it is not a terminal."""
    password = None if no_password else _read_password()
    actor = accounts.add_user(open_services(), username, role, org=org, password=password,
                              display_name=display_name)
    click.echo(f"added {actor.username} ({actor.role})")


@user.command("list")
@handles_errors
def user_list() -> None:
    for row in accounts.list_users(open_services()):
        flags = "" if row["active"] else " (disabled)"
        click.echo(f"{row['username']:20} {row['role']:8} {row['organisation']}{flags}")


@user.command("passwd")
@click.argument("username")
@handles_errors
def user_passwd(username: str) -> None:
    """Set a new password (stdin when not a terminal); the user's sessions end."""
    accounts.set_password(open_services(), username, _read_password("New password"))
    click.echo(f"password changed for {username}")


@cli.group()
def org() -> None:
    """Manage organisations (city → county → school)."""


@org.command("add")
@click.argument("name")
@click.option("--kind", type=click.Choice(["city", "county", "school", "other"]), required=True)
@click.option("--parent", help="Parent organisation: id, path or unique name.")
@handles_errors
def org_add(name: str, kind: str, parent: str | None) -> None:
    created = accounts.add_org(open_services(), name, kind, parent)
    click.echo(f"added {created['path']} (id {created['id']})")


@org.command("list")
@handles_errors
def org_list() -> None:
    for row in accounts.list_orgs(open_services()):
        click.echo(f"{'  ' * row['depth']}{row['name']} [{row['kind']}] id={row['id']}")


@cli.group()
def token() -> None:
    """Manage API tokens."""


@token.command("create")
@click.argument("username")
@click.option("--name", default="", help="What the token is for.")
@handles_errors
def token_create(username: str, name: str) -> None:
    """Print a new API token for USERNAME (shown once; only its hash is kept)."""
    click.echo(api_tokens.create_token(open_services(), username, name))


@token.command("list")
@click.argument("username", required=False)
@handles_errors
def token_list(username: str | None) -> None:
    """List the tokens of USERNAME, or everyone's: id, user, name, first characters, last use."""
    for row in api_tokens.list_tokens(open_services(), OPERATOR, everyone=True, username=username):
        state = f"revoked {row['revoked_at']}" if row["revoked_at"] else f"last used {row['last_used_at'] or 'never'}"
        click.echo(f"{row['id']}\t{row['username']}\t{row['prefix']}…\t{row['name']}\t{state}")


@token.command("revoke")
@click.argument("token_id", type=int)
@handles_errors
def token_revoke(token_id: int) -> None:
    """Revoke the token with this id (see `token list`); it stops working at once."""
    api_tokens.revoke_token(open_services(), OPERATOR, token_id)
    click.echo(f"revoked token {token_id}")
