"""`peerline feeds`: revoke a calendar feed from the console (a lost laptop, say)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from core.errors import PeerLineError
from core.runtime import runtime
from core.schemas.supporters import SupporterQuery
from core.services import programs, roster
from lms.feeds import supporters


@click.group("feeds")
def feeds_group() -> None:
    """Private calendar feeds."""


@feeds_group.command("revoke")
@click.option("--supporter", "alias", required=True, help="The supporter's alias")
@click.option("--program", "program_slug", required=True, help="Program slug")
@with_appcontext
def revoke_command(alias: str, program_slug: str) -> None:
    """Stop a supporter's feed URL working at once; they can ask for a new one."""
    try:
        click.echo(revoke_by_alias(program_slug, alias))
    except PeerLineError as error:
        raise click.ClickException(error.message) from None


def revoke_by_alias(program_slug: str, alias: str) -> str:
    ctx = runtime(current_app).system_ctx()
    with ctx.session:
        program = programs.get_program(ctx, program_slug)
        found = [
            s for s in roster.list_supporters(ctx, program, SupporterQuery()) if s.alias == alias
        ]
        if not found:
            raise click.ClickException(f"no supporter {alias!r} in {program_slug}")
        if supporters.revoke(ctx, found[0].id):
            return f"revoked the calendar feed of {alias}"
        return f"{alias} had no calendar feed"
