"""Migrations build exactly the schema the models declare, guards included, on both databases."""

from __future__ import annotations

import io
import os
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    Connection,
    Engine,
    MetaData,
    create_engine,
    delete,
    insert,
    inspect,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError

from core import migrations
from core.db import make_engine
from core.models import (
    AuditEvent,
    Base,
    Booking,
    Program,
    Supporter,
    SupporterContact,
    SupportRequest,
)

PG_URL_VAR = "PEERLINE_TEST_DATABASE_URL"


def _all_tables() -> MetaData:
    """The core's tables and every installed plugin's, as one MetaData to compare against."""
    combined = MetaData()
    for metadata in (Base.metadata, *(p.metadata for p in migrations.plugin_schemas())):
        for table in metadata.tables.values():
            table.to_metadata(combined)
    return combined


ALL_TABLES = _all_tables()
DRIVERS = {"sqlite": "sqlite://", "postgresql": "postgresql+psycopg://"}
NOW = datetime(2030, 3, 4, 9, 0, tzinfo=UTC)

PG_SCHEMA = """
SELECT 'column', table_name || '.' || column_name, concat_ws(' ', ordinal_position,
       data_type, character_maximum_length, is_nullable, column_default)
  FROM information_schema.columns WHERE table_schema = 'public'
UNION ALL
SELECT 'constraint', conrelid::regclass::text || '.' || conname, pg_get_constraintdef(oid)
  FROM pg_constraint WHERE connamespace = 'public'::regnamespace
UNION ALL
SELECT 'index', indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'
UNION ALL
SELECT 'trigger', tgname, pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal
UNION ALL
SELECT 'function', proname, pg_get_functiondef(p.oid) FROM pg_proc p
 WHERE pronamespace = 'public'::regnamespace
   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
"""


def _reset(engine: Engine) -> None:
    """Leave the database empty: a new public schema, or no SQLite file."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP SCHEMA public CASCADE")
            connection.exec_driver_sql("CREATE SCHEMA public")
        return
    engine.dispose()
    database = Path(str(engine.url.database))
    for suffix in ("", "-wal", "-shm"):
        path = database.with_name(database.name + suffix)
        path.unlink(missing_ok=True)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'peerline.db'}"
    else:
        url = os.environ.get(PG_URL_VAR, "")
        if not url:
            pytest.skip("PEERLINE_TEST_DATABASE_URL not set: PostgreSQL tests skipped")
    engine = make_engine(url)
    _reset(engine)
    yield engine
    _reset(engine)
    engine.dispose()


@pytest.fixture
def migrated(engine: Engine) -> Engine:
    migrations.upgrade(engine)
    return engine


def _schema_objects(engine: Engine) -> set[tuple[Any, ...]]:
    """Every table, column, constraint, index, trigger and function, as the database has it."""
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            rows = connection.exec_driver_sql(PG_SCHEMA).all()
        else:
            rows = connection.exec_driver_sql("SELECT type, name, sql FROM sqlite_master").all()
            rows = [
                (kind, name, _sqlite_clauses(sql) if kind == "table" else sql)
                for kind, name, sql in rows
            ]
    return {tuple(row) for row in rows if "alembic_version" not in row[1]}


def _sqlite_clauses(create_table: str) -> tuple[str, ...]:
    """A CREATE TABLE as its columns in order, then its constraints in any order."""
    body = create_table.partition("(")[2].rpartition(")")[0]
    # ALTER TABLE ADD COLUMN appends ", name TYPE" on the same line; create_all writes a newline
    clauses = [c.strip() for c in re.split(r",\s+(?=CONSTRAINT |[a-z_][a-z0-9_]* [A-Z])", body)]
    constraints = sorted(clause for clause in clauses if clause.startswith("CONSTRAINT"))
    return (*[clause for clause in clauses if not clause.startswith("CONSTRAINT")], *constraints)


def test_upgrade_reaches_head_with_nothing_left_to_autogenerate(migrated: Engine) -> None:
    assert migrations.current_revisions(migrated) == migrations.heads()
    assert migrations.is_up_to_date(migrated)
    with migrated.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, ALL_TABLES)
    # Alembic compares neither check constraints, triggers nor exclusion constraints:
    # test_schema_equals_create_all and test_exclusion_constraint_is_in_the_catalog do.
    assert differences == []


def test_exclusion_constraint_is_in_the_catalog(migrated: Engine) -> None:
    if migrated.dialect.name != "postgresql":
        pytest.skip("exclusion constraints exist only on PostgreSQL")
    with migrated.connect() as connection:
        kind = connection.scalar(
            text("SELECT contype FROM pg_constraint WHERE conname = 'bookings_no_overlap'")
        )
    assert kind == "x"


def test_schema_equals_create_all(migrated: Engine) -> None:
    from_migrations = _schema_objects(migrated)
    _reset(migrated)
    for metadata in (Base.metadata, *(p.metadata for p in migrations.plugin_schemas())):
        metadata.create_all(migrated)
    from_models = _schema_objects(migrated)
    assert sorted(from_migrations - from_models) == sorted(from_models - from_migrations) == []
    names = {row[1] for row in from_models}
    assert {"audit_events", "bookings"} <= {name.split(".")[0] for name in names}


def test_downgrade_to_base_leaves_nothing_and_upgrade_again_works(migrated: Engine) -> None:
    migrations.downgrade(migrated, "base")
    assert migrations.current_revisions(migrated) == set()
    assert not migrations.is_up_to_date(migrated)
    assert _schema_objects(migrated) == set()
    assert set(inspect(migrated).get_table_names()) <= {"alembic_version"}
    migrations.upgrade(migrated)
    assert migrations.is_up_to_date(migrated)
    assert set(inspect(migrated).get_table_names()) >= set(Base.metadata.tables)


@pytest.mark.parametrize("dialect", sorted(DRIVERS))
def test_offline_sql_includes_the_guards(dialect: str) -> None:
    config = migrations.alembic_config(create_engine(DRIVERS[dialect]))
    config.output_buffer = io.StringIO()
    command.upgrade(config, "heads", sql=True)
    script = config.output_buffer.getvalue()
    assert "CREATE TABLE bookings" in script
    assert "bookings_no_overlap" in script
    assert "audit_events is append-only" in script


# -- the guards work on the migrated database ------------------------------------------------


def _seed(connection: Connection) -> tuple[uuid.UUID, uuid.UUID]:
    program_id, supporter_id = uuid.uuid4(), uuid.uuid4()
    connection.execute(
        insert(Program).values(
            id=program_id,
            slug=f"p-{program_id.hex[:8]}",
            name="Peer support",
            kind="workplace",
            time_zone="Europe/London",
            locale="en",
            created_at=NOW,
        )
    )
    connection.execute(
        insert(Supporter).values(
            id=supporter_id,
            program_id=program_id,
            alias="Robin",
            time_zone="Europe/London",
            created_at=NOW,
        )
    )
    return program_id, supporter_id


def _book(
    engine: Engine,
    ids: tuple[uuid.UUID, uuid.UUID],
    start_hour: float,
    hours: float = 1,
    status: str = "confirmed",
) -> uuid.UUID:
    """Insert a request and its booking in one transaction (one booking per request)."""
    program_id, supporter_id = ids
    request_id, booking_id = uuid.uuid4(), uuid.uuid4()
    starts_at = NOW + timedelta(hours=start_hour)
    with engine.begin() as connection:
        connection.execute(
            insert(SupportRequest).values(
                id=request_id,
                program_id=program_id,
                alias="Blue Heron",
                topic="stress",
                urgency="scheduled",
                mode="video",
                language="en",
                token_hash=request_id.hex,
                created_at=NOW,
            )
        )
        connection.execute(
            insert(Booking).values(
                id=booking_id,
                program_id=program_id,
                supporter_id=supporter_id,
                request_id=request_id,
                starts_at=starts_at,
                ends_at=starts_at + timedelta(hours=hours),
                mode="video",
                status=status,
                calendar_uid=f"{booking_id}@peerline",
                created_at=NOW,
                updated_at=NOW,
            )
        )
    return booking_id


@pytest.fixture
def seeded(migrated: Engine) -> tuple[uuid.UUID, uuid.UUID]:
    with migrated.begin() as connection:
        return _seed(connection)


def test_overlapping_bookings_for_one_supporter_are_refused(
    migrated: Engine, seeded: tuple[uuid.UUID, uuid.UUID]
) -> None:
    _book(migrated, seeded, start_hour=1)
    with pytest.raises(IntegrityError, match="bookings_no_overlap"):
        _book(migrated, seeded, start_hour=1.5)
    _book(migrated, seeded, start_hour=2)  # back to back is not an overlap: [start, end)
    with migrated.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM bookings")) == 2


def test_cancelled_bookings_do_not_block_the_slot(
    migrated: Engine, seeded: tuple[uuid.UUID, uuid.UUID]
) -> None:
    _book(migrated, seeded, start_hour=1, status="cancelled")
    booked = _book(migrated, seeded, start_hour=1)
    _book(migrated, seeded, start_hour=1.5, status="cancelled")
    cancelled = _book(migrated, seeded, start_hour=0.5, status="cancelled")
    with pytest.raises(IntegrityError, match="bookings_no_overlap"), migrated.begin() as conn:
        conn.execute(update(Booking).where(Booking.id == cancelled).values(status="confirmed"))
    with migrated.begin() as connection:
        connection.execute(update(Booking).where(Booking.id == booked).values(status="cancelled"))
        connection.execute(
            update(Booking).where(Booking.id == cancelled).values(status="confirmed")
        )


def test_audit_events_are_append_only(
    migrated: Engine, seeded: tuple[uuid.UUID, uuid.UUID]
) -> None:
    event_id = uuid.uuid4()
    with migrated.begin() as connection:
        connection.execute(
            insert(AuditEvent).values(
                id=event_id,
                program_id=seeded[0],
                at=NOW,
                actor="admin",
                actor_role="admin",
                action="program.created",
                target_type="program",
            )
        )
    refused = (
        update(AuditEvent).where(AuditEvent.id == event_id).values(actor="someone else"),
        delete(AuditEvent).where(AuditEvent.id == event_id),
    )
    for statement in refused:
        with pytest.raises(DBAPIError, match="append-only"), migrated.begin() as connection:
            connection.execute(statement)
    with migrated.connect() as connection:
        assert connection.scalar(text("SELECT actor FROM audit_events")) == "admin"


# -- later revisions, written to a temporary versions folder -----------------------------------

HEAD = next(
    iter(ScriptDirectory(str(migrations.SCRIPT_LOCATION)).get_revisions("core@head"))
).revision

REBUILD_SUPPORTERS = """
import sqlalchemy as sa
from alembic import op

revision, down_revision = "t0002", "0001"


def upgrade():
    with op.batch_alter_table("supporters", recreate="always") as batch:
        batch.add_column(sa.Column("pronouns", sa.String(32)))


def downgrade():
    with op.batch_alter_table("supporters", recreate="always") as batch:
        batch.drop_column("pronouns")
"""

ADD_TABLE = """
import sqlalchemy as sa
from alembic import op

revision, down_revision = "t0002", "0001"


def upgrade():
    op.create_table("scratch_a", sa.Column("id", sa.Integer, primary_key=True))
"""

FAIL_HALF_WAY = """
import sqlalchemy as sa
from alembic import op

revision, down_revision = "t0003", "t0002"


def upgrade():
    op.create_table("scratch_b", sa.Column("id", sa.Integer, primary_key=True))
    raise RuntimeError("failed half-way")
"""


ORPHAN_ROW = """
from alembic import op

revision, down_revision = "t0002", "0001"


def upgrade():
    op.execute(
        "INSERT INTO training_records (id, supporter_id, name, completed_on, created_at)"
        " VALUES ('t1', 'no-such-supporter', 'Listening', '2030-01-01', '2030-01-01')"
    )
"""


def _config_with(engine: Engine, folder: Path, *revisions: str) -> Config:
    """The real revisions plus some test-only ones that follow them."""
    folder.mkdir()
    for number, source in enumerate(revisions, start=2):
        # throwaway revisions chain onto whatever the real head is today
        (folder / f"t000{number}_test.py").write_text(source.replace('"0001"', f'"{HEAD}"'))
    config = migrations.alembic_config(engine)
    real = config.get_main_option("version_locations")
    config.set_main_option("version_locations", os.pathsep.join([str(real), str(folder)]))
    return config


def test_a_failed_upgrade_leaves_no_trace(migrated: Engine, tmp_path: Path) -> None:
    """All revisions of one upgrade run in one transaction, on SQLite too."""
    config = _config_with(migrated, tmp_path / "versions", ADD_TABLE, FAIL_HALF_WAY)
    with pytest.raises(RuntimeError, match="failed half-way"):
        command.upgrade(config, "heads")
    assert migrations.current_revisions(migrated) == migrations.heads()
    assert not {"scratch_a", "scratch_b"} & set(inspect(migrated).get_table_names())


@pytest.fixture
def sqlite_migrated(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'peerline.db'}")
    migrations.upgrade(engine)
    yield engine
    engine.dispose()


def test_sqlite_table_rebuild_keeps_rows_that_cascade_from_it(
    sqlite_migrated: Engine, tmp_path: Path
) -> None:
    """Batch mode drops and recreates the table; ON DELETE CASCADE must not fire."""
    with sqlite_migrated.begin() as connection:
        program_id, supporter_id = _seed(connection)
        connection.execute(
            insert(SupporterContact).values(
                id=uuid.uuid4(),
                supporter_id=supporter_id,
                program_id=program_id,
                platform="email",
                address="robin@example.org",
            )
        )
    config = _config_with(sqlite_migrated, tmp_path / "versions", REBUILD_SUPPORTERS)
    command.upgrade(config, "t0002")
    command.downgrade(config, "t0002-1")
    with sqlite_migrated.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM supporter_contacts")) == 1
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_sqlite_upgrade_that_breaks_a_foreign_key_is_rolled_back(
    sqlite_migrated: Engine, tmp_path: Path
) -> None:
    config = _config_with(sqlite_migrated, tmp_path / "versions", ORPHAN_ROW)
    with pytest.raises(RuntimeError, match="foreign key violations"):
        command.upgrade(config, "t0002")
    assert migrations.current_revisions(sqlite_migrated) == migrations.heads()
    with sqlite_migrated.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM training_records")) == 0
