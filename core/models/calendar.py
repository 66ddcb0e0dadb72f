"""Calendar versions: one per supporter and per requester identity, changed by triggers.

A calendar feed is polled far more often than it changes. Its ETag comes from one of these
versions, so an unchanged feed is answered from a single-row read however many sessions it
holds. The database changes the version in the same transaction as any insert, update or
delete of a booking, and of a requester identity (a student's feed goes by it), so no code
path, today's or tomorrow's, can change a feed without changing its version. On PostgreSQL
each change is also told to every process as it commits (core.calendar_watch), so a process
can answer an unchanged feed without asking the database.
"""

from __future__ import annotations

import re
import uuid

from sqlalchemy import DDL, BigInteger, ForeignKey, String, event
from sqlalchemy.orm import Mapped, mapped_column

from core.calendar_watch import CALENDARS, EVERYTHING, REQUESTER, SUPPORTER
from core.models.base import Base
from core.models.booking import Booking
from core.models.request import RequesterIdentity


class SupporterCalendar(Base):
    """Bumped with every change to one of the supporter's bookings."""

    __tablename__ = "supporter_calendars"

    supporter_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("supporters.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int]


class RequesterCalendar(Base):
    """Changed with every change to a booking of a request this identity made.

    A row lives only while an identity with its hash does: erasing a requester's last
    identity deletes it, so nothing here outlives the retention window. Since a row can go
    and come back, its version is a random number drawn at each change, not a count that
    would start again at 1 and could repeat an ETag already given out.
    """

    __tablename__ = "requester_calendars"

    lookup_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)


RANDOM = {
    "sqlite": "random()",  # 64 bits
    "postgresql": "floor(random() * 4503599627370496)::bigint",  # 52 bits
}


def _upsert(table: str, key: str, rows: str, version: str) -> str:
    """Insert (key, version) rows, or set the version of the keys already there.

    Fixed text: `rows` is a VALUES of a NEW./OLD. column or a SELECT written below.
    """
    insert = f"INSERT INTO {table} ({key}, version) {rows} "
    return insert + f"ON CONFLICT ({key}) DO UPDATE SET version = {version}"


def _bump_supporter(supporter: str) -> str:
    return _upsert(
        "supporter_calendars",
        "supporter_id",
        f"VALUES ({supporter}, 1)",
        "supporter_calendars.version + 1",
    )


def _bump_requester(request: str, dialect: str) -> str:
    """The identity that made the request, if it is still kept (SQLite's upsert needs WHERE)."""
    identity = (
        f"SELECT lookup_hash, {RANDOM[dialect]} FROM requester_identities "  # noqa: S608
        f"WHERE request_id = {request}"
    )
    return _upsert("requester_calendars", "lookup_hash", identity, "excluded.version")


def _identity_added(lookup_hash: str, dialect: str) -> str:
    rows = f"VALUES ({lookup_hash}, {RANDOM[dialect]})"
    return _upsert("requester_calendars", "lookup_hash", rows, "excluded.version")


def _identity_removed(lookup_hash: str, dialect: str) -> list[str]:
    """The row goes with the hash's last identity; while others remain, it changes."""
    gone = (
        f"DELETE FROM requester_calendars WHERE lookup_hash = {lookup_hash} AND NOT EXISTS "  # noqa: S608
        f"(SELECT 1 FROM requester_identities WHERE lookup_hash = {lookup_hash})"
    )
    changed = (
        f"UPDATE requester_calendars SET version = {RANDOM[dialect]} "  # noqa: S608
        f"WHERE lookup_hash = {lookup_hash}"
    )
    return [gone, changed]


def _body(*statements: str) -> str:
    return " ".join(f"{statement};" for statement in statements)


def _sqlite() -> list[str]:
    s = "sqlite"
    new = _body(_bump_supporter("NEW.supporter_id"), _bump_requester("NEW.request_id", s))
    old = _body(_bump_supporter("OLD.supporter_id"), _bump_requester("OLD.request_id", s))
    removed = _body(*_identity_removed("OLD.lookup_hash", s))
    return [
        f"CREATE TRIGGER bookings_calendar_insert AFTER INSERT ON bookings BEGIN {new} END",
        f"CREATE TRIGGER bookings_calendar_update AFTER UPDATE ON bookings BEGIN {new} END",
        "CREATE TRIGGER bookings_calendar_moved AFTER UPDATE OF supporter_id, request_id "
        "ON bookings WHEN OLD.supporter_id <> NEW.supporter_id "
        f"OR OLD.request_id <> NEW.request_id BEGIN {old} END",
        f"CREATE TRIGGER bookings_calendar_delete AFTER DELETE ON bookings BEGIN {old} END",
        "CREATE TRIGGER requester_identities_calendar_insert AFTER INSERT "
        f"ON requester_identities BEGIN {_body(_identity_added('NEW.lookup_hash', s))} END",
        "CREATE TRIGGER requester_identities_calendar_rekey AFTER UPDATE OF lookup_hash "
        f"ON requester_identities BEGIN {removed} "
        f"{_body(_identity_added('NEW.lookup_hash', s))} END",
        "CREATE TRIGGER requester_identities_calendar_delete AFTER DELETE "
        f"ON requester_identities BEGIN {removed} END",
    ]


def _postgresql() -> list[str]:
    s = "postgresql"
    return [
        # a booking moved between supporters bumps the lower id first, so two moves crossing
        # between the same two supporters at once take the counters' row locks in one order
        "CREATE OR REPLACE FUNCTION bookings_calendar_versions() RETURNS trigger AS $$ BEGIN "
        "IF TG_OP = 'INSERT' THEN "
        + _body(_bump_supporter("NEW.supporter_id"), _bump_requester("NEW.request_id", s))
        + " ELSIF TG_OP = 'DELETE' THEN "
        + _body(_bump_supporter("OLD.supporter_id"), _bump_requester("OLD.request_id", s))
        + " ELSE "
        + _body(_bump_supporter("LEAST(OLD.supporter_id, NEW.supporter_id)"))
        + " IF OLD.supporter_id <> NEW.supporter_id THEN "
        + _body(_bump_supporter("GREATEST(OLD.supporter_id, NEW.supporter_id)"))
        + " END IF; "
        + _body(_bump_requester("NEW.request_id", s))
        + " IF OLD.request_id <> NEW.request_id THEN "
        + _body(_bump_requester("OLD.request_id", s))
        + " END IF; END IF; RETURN NULL; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER bookings_calendar_versions AFTER INSERT OR UPDATE OR DELETE "
        "ON bookings FOR EACH ROW EXECUTE FUNCTION bookings_calendar_versions()",
        "CREATE OR REPLACE FUNCTION requester_identities_calendar_versions() RETURNS trigger "
        "AS $$ BEGIN IF TG_OP <> 'INSERT' THEN "
        + _body(*_identity_removed("OLD.lookup_hash", s))
        + " END IF; IF TG_OP <> 'DELETE' THEN "
        + _body(_identity_added("NEW.lookup_hash", s))
        + " END IF; RETURN NULL; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER requester_identities_calendar_versions "
        "AFTER INSERT OR UPDATE OF lookup_hash OR DELETE ON requester_identities "
        "FOR EACH ROW EXECUTE FUNCTION requester_identities_calendar_versions()",
    ]


CALENDAR_TRIGGERS = {"sqlite": _sqlite(), "postgresql": _postgresql()}
"""The triggers, per dialect; migration 0010 runs the same statements."""


def _notify(key: str) -> str:
    return f"PERFORM pg_notify('{CALENDARS}', {key});"


CALENDAR_NOTIFY = [
    # one owner's calendar changed: its version row was written or deleted
    "CREATE OR REPLACE FUNCTION supporter_calendars_notify() RETURNS trigger AS $$ BEGIN "
    "IF TG_OP = 'DELETE' THEN "
    + _notify(f"'{SUPPORTER}' || OLD.supporter_id")
    + " ELSE "
    + _notify(f"'{SUPPORTER}' || NEW.supporter_id")
    + " END IF; RETURN NULL; END $$ LANGUAGE plpgsql",
    "CREATE TRIGGER supporter_calendars_notify AFTER INSERT OR UPDATE OR DELETE "
    "ON supporter_calendars FOR EACH ROW EXECUTE FUNCTION supporter_calendars_notify()",
    "CREATE OR REPLACE FUNCTION requester_calendars_notify() RETURNS trigger AS $$ BEGIN "
    "IF TG_OP = 'DELETE' THEN "
    + _notify(f"'{REQUESTER}' || OLD.lookup_hash")
    + " ELSE "
    + _notify(f"'{REQUESTER}' || NEW.lookup_hash")
    + " END IF; RETURN NULL; END $$ LANGUAGE plpgsql",
    "CREATE TRIGGER requester_calendars_notify AFTER INSERT OR UPDATE OR DELETE "
    "ON requester_calendars FOR EACH ROW EXECUTE FUNCTION requester_calendars_notify()",
    # whether a feed still answers at all (feed_data.state_columns): its supporter's status
    # and program, the program itself
    "CREATE OR REPLACE FUNCTION calendars_notify_all() RETURNS trigger AS $$ BEGIN "
    + _notify(f"'{EVERYTHING}'")
    + " RETURN NULL; END $$ LANGUAGE plpgsql",
    "CREATE TRIGGER supporters_calendars_notify AFTER UPDATE OF status, program_id OR DELETE "
    "ON supporters FOR EACH STATEMENT EXECUTE FUNCTION calendars_notify_all()",
    "CREATE TRIGGER programs_calendars_notify AFTER DELETE "
    "ON programs FOR EACH STATEMENT EXECUTE FUNCTION calendars_notify_all()",
]
"""PostgreSQL: what a feed's poll reads tells core.calendar_watch when it changes (at commit).
Migration 0011 runs the same statements."""

NOTIFY_FUNCTIONS = [
    "supporter_calendars_notify",
    "requester_calendars_notify",
    "calendars_notify_all",
]


def calendar_triggers(dialect: str) -> list[tuple[str, str]]:
    """(trigger, table) of each version trigger above, for dropping them."""
    return triggers_of(CALENDAR_TRIGGERS.get(dialect, []))


def triggers_of(statements: list[str]) -> list[tuple[str, str]]:
    """(trigger, table) of each CREATE TRIGGER among `statements`."""
    made = (_TRIGGER.search(statement) for statement in statements)
    return [(found["name"], found["table"]) for found in made if found is not None]


_TRIGGER = re.compile(r"CREATE TRIGGER (?P<name>\w+) .*? ON (?P<table>\w+)")

CALENDAR_FUNCTIONS = ["bookings_calendar_versions", "requester_identities_calendar_versions"]
"""PostgreSQL's trigger functions, dropped with the tables on downgrade."""

# The triggers sit on bookings and requester_identities and write both counters' tables:
# they are made once the last of those exists.
_LAST = Base.metadata.tables[RequesterCalendar.__tablename__]
for _before in (Booking, RequesterIdentity, SupporterCalendar):
    _LAST.add_is_dependent_on(Base.metadata.tables[_before.__tablename__])
for _dialect, _statements in (*CALENDAR_TRIGGERS.items(), ("postgresql", CALENDAR_NOTIFY)):
    for _statement in _statements:
        event.listen(_LAST, "after_create", DDL(_statement).execute_if(dialect=_dialect))  # type: ignore[no-untyped-call]
