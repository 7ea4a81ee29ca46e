"""Inspecting and extending the controlled vocabularies."""

from __future__ import annotations

import click

from repo_server.services import vocabularies

from .base import cli, handles_errors, open_services

__all__ = ["vocab"]


@cli.group()
def vocab() -> None:
    """Inspect and extend the controlled vocabularies."""


@vocab.command("list")
@click.argument("scheme", required=False)
@handles_errors
def vocab_list(scheme: str | None) -> None:
    for name, data in vocabularies.list_vocabularies(open_services()).items():
        if scheme and name != scheme:
            continue
        click.echo(f"{name} ({data['label']})")
        for term in data["terms"]:
            aliases = f"  = {', '.join(term['aliases'])}" if term["aliases"] else ""
            click.echo(f"  {term['code']:12} {term['name']}{aliases}")


@vocab.command("add")
@click.argument("scheme")
@click.argument("name")
@click.option("--code", help="Stable ASCII code (generated when omitted).")
@click.option("--alias", "aliases", multiple=True, help="Another name; repeatable.")
@handles_errors
def vocab_add(scheme: str, name: str, code: str | None, aliases: tuple[str, ...]) -> None:
    term = vocabularies.create_term(open_services(), None, scheme, name, code=code, aliases=aliases)
    click.echo(f"added {scheme} {term['name']} ({term['code']})")


@vocab.command("alias")
@click.argument("scheme")
@click.argument("term")
@click.argument("alias")
@handles_errors
def vocab_alias(scheme: str, term: str, alias: str) -> None:
    """Teach SCHEME that ALIAS means TERM (e.g. `vocab alias edition 人教版 人民教育版`)."""
    found = vocabularies.create_alias(open_services(), None, scheme, term, alias)
    click.echo(f"{found['name']}: {', '.join(found['aliases'])}")
