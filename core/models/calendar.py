"""Calendar versions: a counter per supporter and per requester identity, bumped by triggers.

A calendar feed is polled far more often than it changes. Its ETag comes from one of these
counters, so an unchanged feed is answered from a single-row read however many sessions it
holds. The database bumps the counter in the same transaction as any insert, update or
delete of a booking, and of a requester identity (a student's feed goes by it), so no code path,
today's or tomorrow's, can change a feed without changing its version.
"""

from __future__ import annotations

import re
import uuid

from sqlalchemy import DDL, ForeignKey, String, event
from sqlalchemy.orm import Mapped, mapped_column

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
    """Bumped with every change to a booking of a request this identity made."""

    __tablename__ = "requester_calendars"

    lookup_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int]


def _bump(table: str, key: str, rows: str) -> str:
    """Add one to the version of each key in `rows`, starting at 1 (fixed text: `rows` is a
    VALUES of a NEW./OLD. column or a SELECT written below, never outside input)."""
    insert = f"INSERT INTO {table} ({key}, version) {rows} "
    return insert + f"ON CONFLICT ({key}) DO UPDATE SET version = {table}.version + 1"


def _bump_supporter(supporter: str) -> str:
    return _bump("supporter_calendars", "supporter_id", f"VALUES ({supporter}, 1)")


def _bump_identity(lookup_hash: str) -> str:
    return _bump("requester_calendars", "lookup_hash", f"VALUES ({lookup_hash}, 1)")


def _bump_requester(request: str) -> str:
    """The identity that made the request, if it is still kept (SQLite's upsert needs WHERE)."""
    identity = f"SELECT lookup_hash, 1 FROM requester_identities WHERE request_id = {request}"  # noqa: S608
    return _bump("requester_calendars", "lookup_hash", identity)


CALENDAR_TRIGGERS = {
    "sqlite": [
        "CREATE TRIGGER bookings_calendar_insert AFTER INSERT ON bookings BEGIN "
        f"{_bump_supporter('NEW.supporter_id')}; {_bump_requester('NEW.request_id')}; END",
        "CREATE TRIGGER bookings_calendar_update AFTER UPDATE ON bookings BEGIN "
        f"{_bump_supporter('NEW.supporter_id')}; {_bump_requester('NEW.request_id')}; END",
        "CREATE TRIGGER bookings_calendar_moved AFTER UPDATE OF supporter_id, request_id "
        "ON bookings WHEN OLD.supporter_id <> NEW.supporter_id "
        "OR OLD.request_id <> NEW.request_id BEGIN "
        f"{_bump_supporter('OLD.supporter_id')}; {_bump_requester('OLD.request_id')}; END",
        "CREATE TRIGGER bookings_calendar_delete AFTER DELETE ON bookings BEGIN "
        f"{_bump_supporter('OLD.supporter_id')}; {_bump_requester('OLD.request_id')}; END",
        "CREATE TRIGGER requester_identities_calendar_insert AFTER INSERT "
        f"ON requester_identities BEGIN {_bump_identity('NEW.lookup_hash')}; END",
        "CREATE TRIGGER requester_identities_calendar_rekey AFTER UPDATE OF lookup_hash "
        "ON requester_identities BEGIN "
        f"{_bump_identity('OLD.lookup_hash')}; {_bump_identity('NEW.lookup_hash')}; END",
        "CREATE TRIGGER requester_identities_calendar_delete AFTER DELETE "
        f"ON requester_identities BEGIN {_bump_identity('OLD.lookup_hash')}; END",
    ],
    "postgresql": [
        # a booking moved between supporters bumps the lower id first, so two moves crossing
        # between the same two supporters at once take the counters' row locks in one order
        "CREATE OR REPLACE FUNCTION bookings_calendar_versions() RETURNS trigger AS $$ BEGIN "
        "IF TG_OP = 'INSERT' THEN "
        f"{_bump_supporter('NEW.supporter_id')}; {_bump_requester('NEW.request_id')}; "
        "ELSIF TG_OP = 'DELETE' THEN "
        f"{_bump_supporter('OLD.supporter_id')}; {_bump_requester('OLD.request_id')}; "
        "ELSE "
        f"{_bump_supporter('LEAST(OLD.supporter_id, NEW.supporter_id)')}; "
        "IF OLD.supporter_id <> NEW.supporter_id THEN "
        f"{_bump_supporter('GREATEST(OLD.supporter_id, NEW.supporter_id)')}; END IF; "
        f"{_bump_requester('NEW.request_id')}; "
        "IF OLD.request_id <> NEW.request_id THEN "
        f"{_bump_requester('OLD.request_id')}; END IF; "
        "END IF; RETURN NULL; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER bookings_calendar_versions AFTER INSERT OR UPDATE OR DELETE "
        "ON bookings FOR EACH ROW EXECUTE FUNCTION bookings_calendar_versions()",
        "CREATE OR REPLACE FUNCTION requester_identities_calendar_versions() RETURNS trigger "
        "AS $$ BEGIN "
        f"IF TG_OP <> 'INSERT' THEN {_bump_identity('OLD.lookup_hash')}; END IF; "
        f"IF TG_OP <> 'DELETE' THEN {_bump_identity('NEW.lookup_hash')}; END IF; "
        "RETURN NULL; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER requester_identities_calendar_versions "
        "AFTER INSERT OR UPDATE OF lookup_hash OR DELETE ON requester_identities "
        "FOR EACH ROW EXECUTE FUNCTION requester_identities_calendar_versions()",
    ],
}
"""The triggers, per dialect; migration 0010 runs the same statements."""


def calendar_triggers(dialect: str) -> list[tuple[str, str]]:
    """(trigger, table) of each trigger above, for dropping them."""
    made = (_TRIGGER.search(statement) for statement in CALENDAR_TRIGGERS.get(dialect, []))
    return [(found["name"], found["table"]) for found in made if found is not None]


_TRIGGER = re.compile(r"CREATE TRIGGER (?P<name>\w+) .*? ON (?P<table>\w+)")

CALENDAR_FUNCTIONS = ["bookings_calendar_versions", "requester_identities_calendar_versions"]
"""PostgreSQL's trigger functions, dropped with the tables on downgrade."""

# The triggers sit on bookings and requester_identities and write both counters' tables:
# they are made once the last of those exists.
_LAST = Base.metadata.tables[RequesterCalendar.__tablename__]
for _before in (Booking, RequesterIdentity, SupporterCalendar):
    _LAST.add_is_dependent_on(Base.metadata.tables[_before.__tablename__])
for _dialect, _statements in CALENDAR_TRIGGERS.items():
    for _statement in _statements:
        event.listen(_LAST, "after_create", DDL(_statement).execute_if(dialect=_dialect))  # type: ignore[no-untyped-call]
