"""The `peerline` command: thin click wrappers around plain functions tests can call."""

from __future__ import annotations

import gc
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

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # Flask's --app, --env-file and --debug make no sense for a packaged product.
        self.params = [p for p in self.params if p.name not in ("app", "env_file", "debug")]


@click.group(
    cls=PeerlineGroup, create_app=_create_app, add_default_commands=False, add_version_option=False
)
def main() -> None:
    """PeerLine: run a peer support program."""


def system_ctx(app: Flask | None = None) -> access.Ctx:
    """A unit of work acting as the operator at the console."""
    return runtime(app or current_app).system_ctx()


def _add_console_commands() -> None:
    from core.console.cli import accounts_group

    main.add_command(accounts_group)


_add_console_commands()


@main.group("db")
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
@with_appcontext
def db_upgrade() -> None:
    """Apply Alembic migrations up to the newest."""
    from core import migrations

    migrations.upgrade(runtime().engine)
    at = ", ".join(sorted(migrations.current_revisions(runtime().engine)))
    click.echo(f"database at revision {at}")


@main.group("tokens")
def tokens_group() -> None:
    """API tokens."""


@tokens_group.command("create")
@click.option("--role", required=True, type=click.Choice(access.ROLES))
@click.option("--program", "program_slug", help="Program slug; omit for a deployment-wide admin")
@click.option("--name", default="created at the console", show_default=True)
@click.option("--supporter", "supporter_id", type=click.UUID, help="For --role supporter")
@with_appcontext
def tokens_create(
    role: str, program_slug: str | None, name: str, supporter_id: uuid.UUID | None
) -> None:
    """Print a new API token (shown once)."""
    ctx = system_ctx()
    with ctx.session:
        program = programs.get_program(ctx, program_slug) if program_slug else None
        _, secret = tokens.create(
            ctx, role=role, program=program, name=name, supporter_id=supporter_id
        )
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


@main.group("supporters")
def supporters_group() -> None:
    """Supporter roster files (CSV)."""


@supporters_group.command("import")
@click.argument("file", type=click.File("rb"))
@click.option("--program", "program_slug", required=True, help="Program slug")
@click.option("--dry-run", is_flag=True, help="Check the file and count; store nothing")
@with_appcontext
def supporters_import(file: Any, program_slug: str, dry_run: bool) -> None:
    """Create or update supporters from a CSV file; any row error stores nothing."""
    from core.errors import CsvImportFailed
    from core.services import roster_csv, roster_import

    ctx = system_ctx()
    with ctx.session:
        try:
            text = roster_csv.decode(file.read(roster_csv.MAX_BYTES + 1))
            program = programs.get_program(ctx, program_slug)
            summary = roster_import.import_csv(ctx, program, text, dry_run=dry_run)
        except CsvImportFailed as exc:
            for error in exc.row_errors:
                click.echo(f"row {error['row']}, {error['field']}: {error['message']}", err=True)
            click.echo(f"peerline: {exc.message}", err=True)
            sys.exit(1)
    prefix = "dry run, nothing stored: " if dry_run else ""
    click.echo(
        f"{prefix}{summary.created} created, {summary.updated} updated, "
        f"{summary.unchanged} unchanged"
    )


@supporters_group.command("export")
@click.option("--program", "program_slug", required=True, help="Program slug")
@click.option("--output", type=click.File("wb"), help="Write to this file, not standard output")
@with_appcontext
def supporters_export(program_slug: str, output: Any) -> None:
    """Write the whole roster, offboarded supporters included, as CSV."""
    from core.services import roster_csv

    ctx = system_ctx()
    with ctx.session:
        text = roster_csv.export_csv(ctx, programs.get_program(ctx, program_slug))
    if output is None:
        click.echo(text, nl=False)
        return
    output.write(text.encode("utf-8"))
    click.echo(f"roster of {program_slug} written to {output.name}", err=True)


@main.command("sweep")
@with_appcontext
def sweep() -> None:
    """Run every timer once and queue what is due (the worker does this by itself)."""
    from datetime import timedelta

    from core.worker import jobs_of

    jobs = jobs_of(current_app._get_current_object())  # type: ignore[attr-defined]
    done = jobs.tick(stranded_after=timedelta(0))
    click.echo(", ".join(f"{count} {name}" for name, count in done.items()))


@main.command("worker")
@click.option("--threads", default=4, show_default=True, type=int, help="Jobs run at once")
@click.option(
    "--tick-seconds", default=30.0, show_default=True, type=float, help="How often timers run"
)
@with_appcontext
def worker(threads: int, tick_seconds: float) -> None:
    """Send notifications and run timers (offer timeouts, reminders, retention) until stopped."""
    from core.logs import configure
    from core.worker import run_worker

    configure(runtime(current_app).settings.log_level)
    run_worker(current_app._get_current_object(), threads, tick_seconds)  # type: ignore[attr-defined]


@main.group("keys")
def keys_group() -> None:
    """Encryption keys of requester identities."""


@keys_group.command("rotate")
@with_appcontext
def keys_rotate() -> None:
    """Re-encrypt every stored identity under the first key of PEERLINE_ENCRYPTION_KEYS."""
    from core.services import identities

    ctx = system_ctx()
    with ctx.session:
        count = identities.rotate_identities(ctx)
    click.echo(f"{count} identities re-encrypted under the newest key; older keys may now go")


def init_app(app: Flask) -> None:
    """Commands that need plugins' help are added to app.cli by the plugins themselves."""


def _demo_app(instance: str | None) -> Flask:
    import os
    from pathlib import Path

    from core import migrations
    from core.app import create_app

    folder = Path(instance or os.environ.get("PEERLINE_INSTANCE_PATH") or Path.cwd() / "instance")
    folder.mkdir(parents=True, exist_ok=True)
    database = folder / "demo.sqlite3"
    stale_files = [database, Path(f"{database}-wal"), Path(f"{database}-shm")]
    stale_files += [folder / "jobs.sqlite3", *(folder / "mail").glob("*.eml")]
    for stale in stale_files:
        stale.unlink(missing_ok=True)
    settings: dict[str, object] = {
        "database_url": f"sqlite:///{database}",
        "env": "development",
        "instance_path": folder,
    }
    if not os.environ.get("PEERLINE_SMTP_URL"):
        settings["mail_folder"] = folder / "mail"  # e-mails to open, instead of a relay
    app = create_app(settings)
    migrations.upgrade(runtime(app).engine)
    return app


@main.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--instance", help="Folder for the demo database (default ./instance)")
def demo(host: str, port: int, instance: str | None) -> None:
    """Run PeerLine with demo data on an embedded SQLite database."""
    from werkzeug.serving import run_simple

    from core.demo import banner, seed
    from core.logs import quiet_libraries
    from core.worker import start_in_process

    quiet_libraries()  # werkzeug's access log would show private links' tokens
    _check_port_free(host, port)
    app = _demo_app(instance)
    click.echo(banner(f"http://{host}:{port}", seed(app), runtime(app).settings.mail_folder))
    start_in_process(app)
    run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=False)


def _check_port_free(host: str, port: int) -> None:
    import socket

    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise click.ClickException(
                f"cannot listen on {host}:{port} ({exc.strerror}); choose another with --port"
            ) from None


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
@click.option("--threads", default=4, show_default=True, type=int)
def serve(host: str, port: int, workers: int, threads: int) -> None:
    """Run the production server (gunicorn) with the PEERLINE_* settings."""
    _check_port_free(host, port)
    run_production(_create_app(), host, port, workers, threads)


def run_production(app: Flask, host: str, port: int, workers: int, threads: int) -> None:
    """Serve `app` as `peerline serve` does: gunicorn's threaded workers, our access log."""
    from gunicorn.app.base import BaseApplication

    from core.logs import configure

    configure(runtime(app).settings.log_level)

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            settings = {
                "bind": f"{host}:{port}",
                "workers": workers,
                "threads": threads,
                "worker_class": "gthread",
                "accesslog": "-",
                "timeout": 30,
                "access_log_format": '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms',
                "logger_class": "core.logs.AccessLogger",  # no token of a URL in the log
            }
            for key, value in settings.items():
                self.cfg.set(key, value)

        def load(self) -> Flask:
            return app

    # What is loaded now lives as long as the process: out of the collector's sight, its full
    # collections stay short, and forked workers share these pages rather than copying them
    gc.freeze()
    Server().run()


if __name__ == "__main__":
    main()
