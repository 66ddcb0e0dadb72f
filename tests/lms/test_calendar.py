"""Calendar files from IcsCalendarWriter, read back with an independent parser (icalendar)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest

from core.ports import Attendee, CalendarEvent
from lms.calendar import IcsCalendarWriter

STARTS = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)
STAMP = datetime(2026, 3, 1, 8, 30, 5, tzinfo=UTC)
TEAM = Attendee(name="Blue Heron, Team", email="team@example.org")
OTTER = Attendee(name="Otter, Sea", email="otter@example.org")


def booking(**changes: Any) -> CalendarEvent:
    if "starts_at" in changes:
        changes.setdefault("ends_at", changes["starts_at"] + timedelta(minutes=45))
    event = CalendarEvent(
        uid="booking-7f3a@peerline.example",
        sequence=0,
        starts_at=STARTS,
        ends_at=STARTS + timedelta(minutes=45),
        stamp=STAMP,
        organizer=TEAM,
        attendees=(OTTER,),
    )
    return replace(event, **changes)


def parse(raw: bytes) -> icalendar.Calendar:
    return icalendar.Calendar.from_ical(raw)


def only_vevent(raw: bytes) -> Any:
    (vevent,) = parse(raw).walk("VEVENT")
    return vevent


def attendees(vevent: Any) -> list[Any]:
    found = vevent.get("ATTENDEE", [])
    return found if isinstance(found, list) else [found]


def test_request_puts_method_before_the_event_and_round_trips_identity_and_times():
    raw = IcsCalendarWriter().invite(booking(sequence=3), "REQUEST")
    text = raw.decode()
    assert text.index("METHOD:REQUEST\r\n") < text.index("BEGIN:VEVENT\r\n")
    assert text.startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//PeerLine//PeerLine//EN\r\n")
    calendar = parse(raw)
    assert calendar["METHOD"] == "REQUEST"
    vevent = only_vevent(raw)
    assert vevent["UID"] == "booking-7f3a@peerline.example"
    assert vevent["SEQUENCE"] == 3
    assert vevent["STATUS"] == "CONFIRMED"
    for prop, expected in [
        ("DTSTAMP", STAMP),
        ("DTSTART", STARTS),
        ("DTEND", STARTS + timedelta(minutes=45)),
    ]:
        moment = vevent.decoded(prop)
        assert moment == expected
        assert moment.utcoffset() == timedelta(0)
    assert "DTSTAMP:20260301T083005Z\r\n" in text


def test_a_new_york_time_is_written_as_the_same_instant_in_utc():
    new_york = ZoneInfo("America/New_York")
    # 9 March 2026 is the day after US daylight saving starts: UTC-4, not UTC-5.
    event = booking(
        starts_at=datetime(2026, 3, 9, 9, 0, tzinfo=new_york),
        ends_at=datetime(2026, 3, 9, 9, 45, tzinfo=new_york),
        stamp=datetime(2026, 3, 1, 3, 30, tzinfo=new_york),
    )
    raw = IcsCalendarWriter().invite(event, "REQUEST")
    text = raw.decode()
    assert "DTSTART:20260309T130000Z\r\n" in text
    assert "DTEND:20260309T134500Z\r\n" in text
    assert "DTSTAMP:20260301T083000Z\r\n" in text
    assert "TZID" not in text
    vevent = only_vevent(raw)
    assert vevent.decoded("DTSTART") == datetime(2026, 3, 9, 13, 0, tzinfo=UTC)


def test_names_with_commas_are_quoted_and_stay_one_person():
    raw = IcsCalendarWriter().invite(booking(), "REQUEST")
    assert b'ORGANIZER;CN="Blue Heron, Team":mailto:team@example.org' in raw
    vevent = only_vevent(raw)
    assert vevent["ORGANIZER"].params["CN"] == "Blue Heron, Team"
    (attendee,) = attendees(vevent)
    assert str(attendee) == "mailto:otter@example.org"
    assert attendee.params["CN"] == "Otter, Sea"
    assert attendee.params["ROLE"] == "REQ-PARTICIPANT"
    assert attendee.params["PARTSTAT"] == "NEEDS-ACTION"
    assert attendee.params["RSVP"] == "FALSE"


def test_quotes_and_line_breaks_in_a_name_cannot_add_properties():
    sneaky = Attendee(name='Otter "the\r\nATTENDEE:mailto:evil@example.org', email="o@example.org")
    raw = IcsCalendarWriter().invite(booking(attendees=(sneaky,)), "REQUEST")
    vevent = only_vevent(raw)
    (attendee,) = attendees(vevent)
    assert str(attendee) == "mailto:o@example.org"
    assert attendee.params["CN"] == "Otter 'the  ATTENDEE:mailto:evil@example.org"


def test_an_attendee_without_email_is_left_out_rather_than_written_as_a_bad_address():
    anonymous = Attendee(name="Quiet Fox")
    raw = IcsCalendarWriter().invite(booking(attendees=(anonymous, OTTER)), "REQUEST")
    assert b"Quiet Fox" not in raw
    assert b"mailto:\r\n" not in raw
    assert [str(a) for a in attendees(only_vevent(raw))] == ["mailto:otter@example.org"]


def test_confirm_change_cancel_update_one_event_with_rising_sequence():
    writer = IcsCalendarWriter()
    confirmed = writer.invite(booking(sequence=0), "REQUEST")
    moved = writer.invite(booking(sequence=1, starts_at=STARTS + timedelta(hours=1)), "REQUEST")
    cancelled = writer.invite(booking(sequence=2, starts_at=STARTS + timedelta(hours=1)), "CANCEL")
    versions = [only_vevent(raw) for raw in (confirmed, moved, cancelled)]
    assert {v["UID"] for v in versions} == {"booking-7f3a@peerline.example"}
    assert [v["SEQUENCE"] for v in versions] == [0, 1, 2]
    assert [v["STATUS"] for v in versions] == ["CONFIRMED", "CONFIRMED", "CANCELLED"]
    assert [parse(raw)["METHOD"] for raw in (confirmed, moved, cancelled)] == [
        "REQUEST",
        "REQUEST",
        "CANCEL",
    ]
    text = cancelled.decode()
    assert text.index("METHOD:CANCEL\r\n") < text.index("BEGIN:VEVENT\r\n")


def test_long_multibyte_text_is_folded_at_75_octets_and_unfolds_to_the_original():
    description = (
        "Grüße aus dem Büro 🙂🌿 — join via the link, room 3; bring tea\\coffee.\n"
        "Zweite Zeile: über 😀😀😀 " * 6
    ).strip()
    location = "Haus Ü, Raum 2; 🏠 " * 8
    event = booking(description=description, location=location.strip())
    raw = IcsCalendarWriter().invite(event, "REQUEST")
    assert raw.endswith(b"\r\n")
    assert raw.count(b"\n") == raw.count(b"\r\n")
    physical = raw.split(b"\r\n")[:-1]
    assert any(line.startswith(b" ") for line in physical)  # folding happened
    for line in physical:
        assert len(line) <= 75
        line.decode("utf-8")  # no character was cut in half
    vevent = only_vevent(raw)
    assert str(vevent["DESCRIPTION"]) == description
    assert str(vevent["LOCATION"]) == location.strip()


def test_the_title_is_neutral_and_nothing_else_describes_the_chat():
    raw = IcsCalendarWriter().invite(booking(), "REQUEST")
    vevent = only_vevent(raw)
    assert vevent["SUMMARY"] == "Peer chat"
    assert set(vevent) == {
        "UID",
        "SEQUENCE",
        "DTSTAMP",
        "DTSTART",
        "DTEND",
        "SUMMARY",
        "STATUS",
        "ORGANIZER",
        "ATTENDEE",
    }


def test_feed_publishes_each_event_with_its_own_identity_and_no_attendees():
    events = [
        booking(
            uid=f"booking-{n}@peerline.example", sequence=n, starts_at=STARTS + timedelta(days=n)
        )
        for n in range(3)
    ]
    events[2] = replace(events[2], cancelled=True)
    raw = IcsCalendarWriter().feed("Peer chats, spring; 2026", events)
    calendar = parse(raw)
    assert calendar["METHOD"] == "PUBLISH"
    # icalendar leaves X- properties escaped, so check the TEXT escaping on the raw line.
    assert "X-WR-CALNAME" in calendar
    assert b"\r\nX-WR-CALNAME:Peer chats\\, spring\\; 2026\r\n" in raw
    vevents = calendar.walk("VEVENT")
    assert [v["UID"] for v in vevents] == [e.uid for e in events]
    assert [v["SEQUENCE"] for v in vevents] == [0, 1, 2]
    assert [v["STATUS"] for v in vevents] == ["CONFIRMED", "CONFIRMED", "CANCELLED"]
    assert [v.decoded("DTSTART") for v in vevents] == [e.starts_at for e in events]
    assert all(v.decoded("DTSTAMP") == STAMP for v in vevents)
    assert b"ATTENDEE" not in raw


def test_add_to_calendar_download_is_a_publish_without_attendees():
    raw = IcsCalendarWriter().invite(booking(), "PUBLISH")
    assert parse(raw)["METHOD"] == "PUBLISH"
    vevent = only_vevent(raw)
    assert attendees(vevent) == []
    assert vevent["STATUS"] == "CONFIRMED"


def test_a_time_without_a_zone_is_refused_rather_than_guessed():
    naive = booking(starts_at=datetime(2026, 3, 4, 9, 0))
    with pytest.raises(ValueError, match="starts_at must be timezone-aware"):
        IcsCalendarWriter().invite(naive, "REQUEST")
