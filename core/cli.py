"""The `peerline` command: thin click wrappers around plain functions tests can call."""

from __future__ import annotations

import sys
import uuid
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from core.errors import ConfigError, PeerLineError
from core.runtime import runtime
from core.services import access, programs, tokens


def _create_app() -> Flask:
    from core.app import create_app

    try:
        return create_app()
    except ConfigError as exc:
        click.echo(f"peerline: configuration error: {exc.message}", err=True)
        sys.exit(2)


class PeerlineGroup(FlaskGroup):
    """Turns expected errors into one clear line instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PeerLineError as exc:
            raise click.ClickException(exc.message) from None


@click.group(cls=PeerlineGroup, create_app=_create_app, add_default_commands=False,
             add_version_option=False)
def main() -> None:
    """PeerLine: run a peer support program."""


def system_ctx(app: Flask | None = None) -> access.Ctx:
    """A unit of work acting as the operator at the console."""
    current = runtime(app or current_app)
    return access.Ctx(session=current.session_factory(), principal=access.SYSTEM,
                      now=current.clock.now(), cipher=current.cipher)


@main.group("db")
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
@with_appcontext
def db_upgrade() -> None:
    """Apply Alembic migrations up to the newest."""
    from core import migrations

    migrations.upgrade(runtime().engine)
    click.echo(f"database at revision {migrations.current_revision(runtime().engine)}")


@main.group("tokens")
def tokens_group() -> None:
    """API tokens."""


@tokens_group.command("create")
@click.option("--role", required=True, type=click.Choice(access.ROLES))
@click.option("--program", "program_slug", help="Program slug; omit for a deployment-wide admin")
@click.option("--name", default="created at the console", show_default=True)
@click.option("--supporter", "supporter_id", type=click.UUID, help="For --role supporter")
@with_appcontext
def tokens_create(role: str, program_slug: str | None, name: str,
                  supporter_id: uuid.UUID | None) -> None:
    """Print a new API token (shown once)."""
    ctx = system_ctx()
    with ctx.session:
        program = programs.get_program(ctx, program_slug) if program_slug else None
        _, secret = tokens.create(ctx, role=role, program=program, name=name,
                                  supporter_id=supporter_id)
    click.echo(secret)


@tokens_group.command("revoke")
@click.argument("token_id", type=click.UUID)
@with_appcontext
def tokens_revoke(token_id: uuid.UUID) -> None:
    """Revoke a token at once."""
    ctx = system_ctx()
    with ctx.session:
        tokens.revoke(ctx, token_id)
    click.echo("revoked")


def init_app(app: Flask) -> None:
    """Commands that need plugins' help are added to app.cli by the plugins themselves."""
