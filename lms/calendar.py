"""The project's one iCalendar writer: ics builds the events, this module covers its gaps."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import ics  # type: ignore[import-untyped]
from ics.grammar.parse import ContentLine  # type: ignore[import-untyped]
from ics.utils import escape_string  # type: ignore[import-untyped]

from core.ports import Attendee, CalendarEvent, CalendarMethod

CRLF = "\r\n"
DEFAULT_PRODID = "-//PeerLine//PeerLine//EN"
NEUTRAL_TITLE = "Peer chat"
METHODS: frozenset[str] = frozenset({"REQUEST", "CANCEL", "PUBLISH"})
# RFC 5545 CONTROL is %x00-08 / %x0A-1F / %x7F; TEXT still allows HTAB.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_CONTROL_OR_TAB = re.compile(r"[\x00-\x1f\x7f]")
_ATTENDEE_PARAMS: dict[str, list[str]] = {
    "ROLE": ["REQ-PARTICIPANT"],
    "PARTSTAT": ["NEEDS-ACTION"],
    "RSVP": ["FALSE"],  # ics' Attendee(rsvp=True) crashes, so parameters are written here
}
_FIRST_LINE_OCTETS = 75
_NEXT_LINE_OCTETS = 74  # a continuation line starts with one space


class IcsCalendarWriter:
    """Writes invites and feeds that Outlook, Google and Apple accept and update in place."""

    def __init__(self, *, prodid: str = DEFAULT_PRODID) -> None:
        """Keep the PRODID so every file says which product wrote it."""
        self._prodid = _single_line(prodid)

    def invite(self, event: CalendarEvent, method: CalendarMethod) -> bytes:
        """One VCALENDAR, METHOD before its only VEVENT, so mail clients treat it as an invite."""
        _check_method(method)
        return self._calendar(method, [], [_vevent(event, method)])

    def feed(self, name: str, events: list[CalendarEvent]) -> bytes:
        """A METHOD:PUBLISH calendar that subscribers (Moodle, Outlook, Google) refresh by UID."""
        title = ContentLine("X-WR-CALNAME", {}, str(escape_string(_clean_text(name))))
        return self._calendar("PUBLISH", [title], [_vevent(e, "PUBLISH") for e in events])

    def _calendar(self, method: str, headers: list[ContentLine], vevents: list[str]) -> bytes:
        """Wrap events so METHOD follows VERSION/PRODID (ics would write it after the events)."""
        envelope = str(ics.Calendar(creator=self._prodid).serialize()).split(CRLF)
        begin_to_prodid, end = envelope[:-1], envelope[-1]
        lines = [*begin_to_prodid, f"METHOD:{method}", *(str(h) for h in headers)]
        for vevent in vevents:
            lines.extend(vevent.split(CRLF))
        lines.append(end)
        return b"".join(_fold(line) + b"\r\n" for line in lines)


def _vevent(event: CalendarEvent, method: str) -> str:
    """Build the VEVENT with ics, then add what ics cannot write (SEQUENCE, quoted CN)."""
    if not _single_line(event.uid):
        raise ValueError("a calendar event needs a stable UID")
    if event.sequence < 0:
        raise ValueError("SEQUENCE starts at 0")
    cancelled = event.cancelled or method == "CANCEL"
    built = ics.Event(
        name=_clean_text(event.title) or NEUTRAL_TITLE,
        begin=_utc(event.starts_at, "starts_at"),
        end=_utc(event.ends_at, "ends_at"),
        uid=_single_line(event.uid),
        description=_clean_text(event.description) or None,
        location=_clean_text(event.location) or None,
        created=_utc(event.stamp, "stamp"),  # ics writes `created` as DTSTAMP
        status="CANCELLED" if cancelled else "CONFIRMED",
    )
    built.extra.append(ContentLine("SEQUENCE", {}, str(event.sequence)))
    if event.organizer is not None and event.organizer.email:
        built.extra.append(_party("ORGANIZER", event.organizer, {}))
    if method != "PUBLISH":  # RFC 5546: a published event lists no attendees
        for attendee in event.attendees:
            if attendee.email:  # no address, no ATTENDEE: nobody to send replies or updates to
                built.extra.append(_party("ATTENDEE", attendee, _ATTENDEE_PARAMS))
    return str(built.serialize())


def _party(prop: str, who: Attendee, extra: dict[str, list[str]]) -> ContentLine:
    """ORGANIZER/ATTENDEE with a quoted CN, since ics leaves commas in names unquoted."""
    params: dict[str, list[str]] = {}
    name = _CONTROL.sub(" ", who.name).replace('"', "'").strip()
    if name:
        params["CN"] = [f'"{name}"']  # quoted: a comma or semicolon stays inside the name
    params.update({key: list(values) for key, values in extra.items()})
    address = _single_line(who.email or "").replace(" ", "")
    return ContentLine(prop, params, f"mailto:{address}")


def _check_method(method: str) -> None:
    """Refuse methods calendar software would not know what to do with."""
    if method not in METHODS:
        raise ValueError(f"unsupported calendar METHOD {method!r}")


def _utc(moment: datetime, field: str) -> datetime:
    """Times go out in UTC with Z; a naive time would be guessed, so it is refused."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{field} must be timezone-aware")
    return moment.astimezone(UTC)


def _single_line(value: str) -> str:
    """Drop control characters so a value can never break out of its content line."""
    return _CONTROL_OR_TAB.sub("", value).strip()


def _clean_text(value: str) -> str:
    """Normalise newlines to LF and drop other controls; ics then escapes TEXT."""
    normalised = value.replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(_CONTROL.sub("", line) for line in normalised.split("\n")).strip()


def _fold(line: str) -> bytes:
    """Fold at 75 octets without splitting a UTF-8 character, as RFC 5545 requires."""
    data = line.encode("utf-8")
    pieces: list[bytes] = []
    start, limit = 0, _FIRST_LINE_OCTETS
    while len(data) - start > limit:
        cut = start + limit
        while data[cut] & 0xC0 == 0x80:  # a continuation byte: step back to the char start
            cut -= 1
        pieces.append(data[start:cut])
        start, limit = cut, _NEXT_LINE_OCTETS
    pieces.append(data[start:])
    return b"\r\n ".join(pieces)
