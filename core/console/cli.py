"""`peerline accounts …`: console accounts made, listed, unlocked and given passwords."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from core.models import ConsoleAccount, Program, Supporter
from core.runtime import runtime
from core.services import accounts, programs
from core.services.access import Ctx


def _ctx() -> Ctx:
    return runtime(current_app).system_ctx()


def _password(given_on_stdin: bool) -> str:
    if given_on_stdin:
        return click.get_text_stream("stdin").readline().rstrip("\n")
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))


@click.group("accounts")
def accounts_group() -> None:
    """Console accounts (admins, coordinators, supporters)."""


@accounts_group.command("create")
@click.option("--email", required=True)
@click.option("--name", "display_name", required=True, help="Shown in the console")
@click.option("--role", required=True, type=click.Choice(accounts.ROLES))
@click.option("--program", "program_slug", help="Program slug; omit for a deployment admin")
@click.option("--supporter", "supporter_alias", help="For --role supporter: their alias")
@click.option("--sso-only", is_flag=True, help="No password: sign in with single sign-on only")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input")
@with_appcontext
def create_command(
    email: str,
    display_name: str,
    role: str,
    program_slug: str | None,
    supporter_alias: str | None,
    sso_only: bool,
    password_stdin: bool,
) -> None:
    """Add a console account."""
    ctx = _ctx()
    with ctx.session:
        program = programs.get_program(ctx, program_slug) if program_slug else None
        supporter_id = None
        if supporter_alias is not None and program is not None:
            supporter_id = ctx.session.scalar(
                select(Supporter.id).where(
                    Supporter.program_id == program.id, Supporter.alias == supporter_alias
                )
            )
        password = None if sso_only else _password(password_stdin)
        account = accounts.create(
            ctx,
            email=email,
            role=role,
            display_name=display_name,
            program_id=program.id if program else None,
            supporter_id=supporter_id,
            password=password,
        )
        ctx.session.commit()
        click.echo(f"created {account.role} account {account.email}")


@accounts_group.command("list")
@with_appcontext
def list_command() -> None:
    """Every account: e-mail, role, program, how it signs in, and whether it is locked."""
    ctx = _ctx()
    with ctx.session:
        slugs = {row.id: row.slug for row in ctx.session.execute(select(Program.id, Program.slug))}
        for account in ctx.session.scalars(select(ConsoleAccount).order_by(ConsoleAccount.email)):
            # any account may use single sign-on by its e-mail; a first use links it for good
            sso = "sso (linked)" if account.external_subject else "sso (by e-mail)"
            ways = ["password", sso] if account.password_hash else [sso]
            state = (
                "disabled"
                if account.disabled_at
                else (
                    "locked"
                    if account.locked_until and account.locked_until > ctx.now
                    else "active"
                )
            )
            program = (
                slugs.get(account.program_id, "(all programs)")
                if account.program_id
                else "(all programs)"
            )
            click.echo(f"{account.email}\t{account.role}\t{program}\t{'+'.join(ways)}\t{state}")


@accounts_group.command("set-password")
@click.option("--email", required=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input")
@with_appcontext
def set_password_command(email: str, password_stdin: bool) -> None:
    """Give an account a new password (its sessions end; a lock is lifted)."""
    ctx = _ctx()
    with ctx.session:
        account = accounts.find_by_email(ctx, email)
        if account is None:
            raise click.ClickException("no account with this e-mail address")
        accounts.set_password(ctx, account.id, _password(password_stdin))
        ctx.session.commit()
        click.echo(f"new password set for {account.email}")


@accounts_group.command("unlock")
@click.option("--email", required=True)
@with_appcontext
def unlock_command(email: str) -> None:
    """Lift a lock-out after too many failed sign-ins."""
    ctx = _ctx()
    with ctx.session:
        account = accounts.find_by_email(ctx, email)
        if account is None:
            raise click.ClickException("no account with this e-mail address")
        accounts.unlock(ctx, account.id)
        ctx.session.commit()
        click.echo(f"unlocked {account.email}")
