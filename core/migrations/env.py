"""Alembic environment: migrates through the engine or connection the caller hands over."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection, TypeDecorator, make_url

from core.db import make_engine
from core.migrations import plugin_schemas
from core.models import Base

config = context.config
target_metadata = [Base.metadata, *(schema.metadata for schema in plugin_schemas())]


def _render_item(kind: str, obj: Any, autogen: AutogenContext) -> str | bool:
    """Write our TypeDecorators as their plain SQL type, so revisions never import models."""
    if kind == "type" and isinstance(obj, TypeDecorator):
        impl = obj.impl_instance
        if type(impl).__module__.startswith("sqlalchemy.sql"):
            return f"sa.{impl!r}"
    return False


def _options(dialect_name: str) -> dict[str, Any]:
    return {
        "target_metadata": target_metadata,
        "compare_type": True,
        "render_as_batch": dialect_name == "sqlite",
        "render_item": _render_item,
        # make_engine gives SQLite real transactions (BEGIN IMMEDIATE), so its DDL
        # rolls back as PostgreSQL's does: one transaction for the whole upgrade.
        "transactional_ddl": True,
    }


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database: use core.migrations.alembic_config(engine)")
    return url


def run_migrations_offline() -> None:
    """Print the SQL (alembic upgrade --sql) for the engine's dialect instead of running it."""
    target = config.attributes.get("connection")
    dialect_name = target.dialect.name if target is not None else make_url(_url()).drivername
    dialect_name = dialect_name.split("+", 1)[0]
    context.configure(dialect_name=dialect_name, literal_binds=True, **_options(dialect_name))
    with context.begin_transaction():
        context.run_migrations()


@contextmanager
def _sqlite_foreign_keys_deferred(connection: Connection) -> Iterator[None]:
    """Switch SQLite foreign key enforcement off while tables are rebuilt.

    A batch migration drops and recreates a table; with enforcement on, the drop
    deletes every row first and ON DELETE CASCADE empties the child tables.
    The pragma only takes effect outside a transaction, so it goes to the driver
    connection before Alembic begins; violations are checked before the commit.
    """
    if connection.dialect.name != "sqlite" or connection.in_transaction():
        yield
        return
    driver = connection.connection.driver_connection
    assert driver is not None
    enforced = driver.execute("PRAGMA foreign_keys").fetchone()[0]
    driver.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
    finally:
        driver.execute(f"PRAGMA foreign_keys={enforced}")
        if driver.execute("PRAGMA foreign_keys").fetchone()[0] != enforced:
            connection.invalidate()  # still in a transaction: never pool it unenforced


def _check_sqlite_foreign_keys(connection: Connection) -> None:
    if connection.dialect.name != "sqlite":
        return
    violations = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if violations:
        raise RuntimeError(f"migration left foreign key violations: {violations[:10]}")


def _migrate(connection: Connection) -> None:
    context.configure(connection=connection, **_options(connection.dialect.name))
    with _sqlite_foreign_keys_deferred(connection), context.begin_transaction():
        context.run_migrations()
        _check_sqlite_foreign_keys(connection)


def run_migrations_online() -> None:
    target = config.attributes.get("connection")
    if isinstance(target, Connection):
        _migrate(target)
        return
    engine = target if target is not None else make_engine(_url())
    try:
        with engine.connect() as connection:
            _migrate(connection)
    finally:
        if target is None:
            engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
