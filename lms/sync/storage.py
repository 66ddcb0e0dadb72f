"""The sync tables: Canvas and Moodle connections and what was pushed where (branch `lms_sync`).

Found by the core's migrations through the `peerline.schemas` entry point. No topic, note or
requester identity is kept here: Canvas and Moodle ids of events only, and the encrypted
Canvas refresh token. A student's Canvas user id lives only in the core's encrypted
requester identity of their named booking.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Uuid,
)

from core.db import UTCDateTime

metadata = MetaData()


CANVAS_CONNECTIONS = Table(
    "lms_canvas_connections",
    metadata,
    Column("program_id", Uuid, primary_key=True),
    Column("refresh_token", LargeBinary, nullable=False),  # Fernet-encrypted, never shown
    Column("status", String(20), nullable=False),  # connected | refused
    Column("detail", String(300), nullable=True),  # why it was refused, in our words
    Column("updated_at", UTCDateTime(), nullable=False),
    comment="The Canvas account PeerLine acts as, per program: its refresh token, encrypted",
)

CANVAS_GROUPS = Table(
    "lms_canvas_groups",
    metadata,
    Column("supporter_id", Uuid, primary_key=True),
    Column("week_start", UTCDateTime(), primary_key=True),
    Column("program_id", Uuid, nullable=False),
    # null while the creation's answer has not been seen: the group is then found by title
    Column("group_id", String(40), nullable=True, unique=True),
    Column("title", String(200), nullable=False),
    Column("week_end", UTCDateTime(), nullable=False, index=True),
    comment="One Canvas appointment group per supporter and week, with their free times",
)

CANVAS_RESERVATIONS = Table(
    "lms_canvas_reservations",
    metadata,
    Column("reservation_id", String(40), primary_key=True),  # the Canvas child event's id
    Column("group_id", String(40), nullable=False, index=True),
    Column("supporter_id", Uuid, nullable=False),
    Column("starts_at", UTCDateTime(), nullable=False),
    Column("ends_at", UTCDateTime(), nullable=False, index=True),
    Column("booking_id", Uuid, nullable=True, unique=True),
    # booked (a core booking holds it) | released (PeerLine took it back in Canvas) |
    # gone (the student cancelled it in Canvas)
    Column("state", String(12), nullable=False),
    comment="Canvas reservations seen, and the core booking each became",
)

MOODLE_EVENTS = Table(
    "lms_moodle_events",
    metadata,
    Column("booking_uid", String(120), primary_key=True),
    Column("event_id", String(40), nullable=True),  # null while the creation's answer is unseen
    Column("sequence", Integer, nullable=False),  # the booking sequence the event shows
    Column("starts_at", UTCDateTime(), nullable=False),
    Column("ends_at", UTCDateTime(), nullable=False, index=True),
    comment="Moodle calendar events made for bookings, so a move or cancel reaches them",
)
