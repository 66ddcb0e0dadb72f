"""Private calendar feeds over HTTP, each one read back with an independent parser (icalendar)."""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import icalendar
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, select

from core.clock import FrozenClock
from core.ports import CalendarEvent
from core.runtime import runtime
from core.services import identities, programs, requests
from core.services.feed_data import FeedSession
from lms.feeds import content, revoke_student_feed, student_feed_url
from lms.feeds.storage import FEEDS
from lms.feeds.web import init_app as init_feeds
from lms.student import PLATFORM, subject_of
from tests.conftest import make_app
from tests.helpers import EVERY_WEEKDAY, World, auth, issue_token, make_world, system_ctx

PUBLIC = "https://peer.example.edu"
ANNA = subject_of("https://canvas.example.edu", "a6f1-anna")
BEN = subject_of("https://canvas.example.edu", "b7e2-ben")
NOTE = "Exam panic again. I am Sam Jones, room 12"
THURSDAY = datetime(2026, 3, 5, tzinfo=UTC)


@dataclass
class Setting:
    app: Flask
    client: FlaskClient
    world: World
    clock: FrozenClock

    def book(self, supporter: str, at: datetime, student: str = ANNA, topic: str = "grief") -> dict:
        """A student's booking made through the LMS integration, with a topic and a note."""
        body = {
            "program": "acme",
            "topic": topic,
            "urgency": "scheduled",
            "mode": "video",
            "language": "en",
            "note": NOTE,
            "channel": "lms",
            "slot": {"supporter_id": self.world.supporters[supporter]["id"], "starts_at": iso(at)},
        }
        made = self.client.post("/api/v1/requests", json=body, headers=auth(self.world.service))
        assert made.status_code == 201, made.json
        # as the LTI booking page keeps a launched student: platform "lti", subject from the launch
        ctx = system_ctx(self.app)
        with ctx.session:
            request = requests.get_request(ctx, uuid.UUID(made.json["id"]))
            identities.store(ctx, request, PLATFORM, student)
            ctx.session.commit()
        return dict(made.json)

    def supporter_url(self, alias: str) -> str:
        token = self.world.supporter_token(alias)
        response = self.client.post("/lms/feeds/supporter", headers=auth(token))
        assert response.status_code in (200, 201), response.json
        return str(response.json["url"])

    def poll(self, url: str, **headers: str) -> Any:
        """The feed as a calendar would fetch it, once every change made so far is told.

        On PostgreSQL a process answers from what it kept until the database tells it of a
        change, which arrives just after the commit; a calendar polling in between is
        answered as if it had polled a moment earlier. Here each poll waits for the news.
        """
        watch = runtime(self.app).calendar_watch
        if watch is not None and not watch.stopped:
            assert watch.caught_up(), "the calendar watch listens"
        return self.client.get(urlsplit(url).path, headers=headers)

    def program_id(self) -> uuid.UUID:
        ctx = system_ctx(self.app)
        with ctx.session:
            return programs.get_program(ctx, "acme").id


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def make_setting(database_url: str, tmp_path: Any, clock: FrozenClock, **settings: Any) -> Setting:
    app = make_app(database_url, tmp_path, clock, plugins=[("lms-feeds", init_feeds)], **settings)
    client = app.test_client()
    world = make_world(app, client, kind="school")
    world.add_supporter("Ash", weekly=EVERY_WEEKDAY)
    world.add_supporter("Birch", weekly=EVERY_WEEKDAY)
    return Setting(app, client, world, clock)


@pytest.fixture
def setting(database_url: str, tmp_path: Any, clock: FrozenClock) -> Iterator[Setting]:
    built = make_setting(database_url, tmp_path, clock, public_url=PUBLIC)
    yield built
    runtime(built.app).engine.dispose()


def vevents(raw: bytes) -> list[Any]:
    return list(icalendar.Calendar.from_ical(raw).walk("VEVENT"))


def assert_well_formed(raw: bytes) -> None:
    """CRLF lines of at most 75 octets, every folded piece valid UTF-8, nothing private."""
    assert raw.endswith(b"\r\n") and raw.count(b"\n") == raw.count(b"\r\n")
    for line in raw.split(b"\r\n")[:-1]:
        assert len(line) <= 75
        line.decode("utf-8")
    text = raw.decode()
    for private in ("grief", "stress", "Exam", "Sam Jones", "canvas.example.edu", "a6f1", "b7e2"):
        assert private not in text
    assert "ATTENDEE" not in text and "mailto:" not in text


# -- a supporter's feed ----------------------------------------------------------------------


def test_a_supporters_feed_is_a_neutral_calendar_of_their_sessions(setting: Setting) -> None:
    first = setting.book("Ash", THURSDAY + timedelta(hours=10))
    setting.book("Ash", THURSDAY + timedelta(hours=14), student=BEN, topic="stress")
    setting.book("Birch", THURSDAY + timedelta(hours=10))  # someone else's session
    url = setting.supporter_url("Ash")
    assert url.startswith(f"{PUBLIC}/feeds/plf_") and url.endswith(".ics")

    response = setting.poll(url)
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    assert response.headers["Cache-Control"] == "private, max-age=300"
    raw = response.data
    assert_well_formed(raw)
    calendar = icalendar.Calendar.from_ical(raw)
    assert calendar["METHOD"] == "PUBLISH"
    assert b"\r\nX-WR-CALNAME:Peer chats\r\n" in raw
    assert b"\r\nREFRESH-INTERVAL;VALUE=DURATION:PT1H\r\n" in raw
    assert b"\r\nX-PUBLISHED-TTL:PT1H\r\n" in raw
    events = vevents(raw)
    assert len(events) == 2
    assert events[0]["UID"] == first["booking"]["calendar_uid"]
    assert events[0].decoded("DTSTART") == THURSDAY + timedelta(hours=10)
    assert events[0].decoded("DTEND") == THURSDAY + timedelta(hours=10, minutes=45)
    assert events[0].decoded("DTSTAMP") == setting.clock.now()
    assert [e["SEQUENCE"] for e in events] == [0, 0]
    assert str(events[0]["SUMMARY"]) == f"Peer chat with {first['alias']}"
    assert str(events[0]["DESCRIPTION"]) == (
        f"A video call with {first['alias']}, booked through PeerLine."
    )
    assert {str(e["CLASS"]) for e in events} == {"PRIVATE"}


def test_uids_stay_put_a_move_raises_sequence_and_a_cancelled_session_leaves(
    setting: Setting,
) -> None:
    moved = setting.book("Ash", THURSDAY + timedelta(hours=10))
    cancelled = setting.book("Ash", THURSDAY + timedelta(hours=14), student=BEN)
    url = setting.supporter_url("Ash")
    before = vevents(setting.poll(url).data)
    setting.clock.advance(minutes=5)
    again = vevents(setting.poll(url).data)
    assert [e["UID"] for e in again] == [e["UID"] for e in before]

    setting.clock.advance(minutes=5)
    later = THURSDAY + timedelta(hours=11)
    response = setting.client.post(
        f"/api/v1/bookings/{moved['booking']['id']}/reschedule",
        json={"starts_at": iso(later)},
        headers=auth(moved["token"]),
    )
    assert response.status_code == 200, response.json
    gone = setting.client.post(
        f"/api/v1/bookings/{cancelled['booking']['id']}/cancel",
        json={},
        headers=auth(cancelled["token"]),
    )
    assert gone.status_code == 200, gone.json

    raw = setting.poll(url).data
    assert_well_formed(raw)
    (event_,) = vevents(raw)
    assert event_["UID"] == moved["booking"]["calendar_uid"]
    assert event_["SEQUENCE"] == 1
    assert event_.decoded("DTSTART") == later
    assert event_.decoded("DTSTAMP") == setting.clock.now()  # this version is the move's
    assert cancelled["booking"]["calendar_uid"].encode() not in raw


def test_an_unchanged_feed_is_answered_304_without_being_written(
    setting: Setting, monkeypatch: pytest.MonkeyPatch
) -> None:
    setting.book("Ash", THURSDAY + timedelta(hours=10))
    url = setting.supporter_url("Ash")
    first = setting.poll(url)
    tag = first.headers["ETag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', tag)

    written: list[int] = []
    real = content.WRITER.feed

    def counting(name: str, events: list[CalendarEvent]) -> bytes:
        written.append(len(events))
        return real(name, events)

    monkeypatch.setattr(content.WRITER, "feed", counting)
    setting.clock.advance(minutes=30)
    for given in (tag, f"W/{tag}", f'"nope", {tag}', "*"):
        unchanged = setting.poll(url, **{"If-None-Match": given})
        assert unchanged.status_code == 304
        assert unchanged.data == b""
        assert unchanged.headers["ETag"] == tag
        assert unchanged.headers["Cache-Control"] == "private, max-age=300"
    assert written == []

    setting.book("Ash", THURSDAY + timedelta(hours=15), student=BEN)
    changed = setting.poll(url, **{"If-None-Match": tag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != tag
    assert written == [2]
    assert len(vevents(changed.data)) == 2
    # the ETag sent with a body is the one the next poll is compared with
    assert setting.poll(url, **{"If-None-Match": changed.headers["ETag"]}).status_code == 304


def test_sessions_older_than_thirty_days_drop_out_and_change_the_etag(setting: Setting) -> None:
    """The window starts 30 days before today (UTC): it moves, and the ETag with it, daily."""
    setting.book("Ash", THURSDAY + timedelta(hours=10))  # 5 March, 10:00
    url = setting.supporter_url("Ash")
    tag = setting.poll(url).headers["ETag"]
    setting.clock.advance(hours=14)  # 4 March, 23:00: the same day
    assert setting.poll(url, **{"If-None-Match": tag}).status_code == 304
    setting.clock.advance(days=31)  # 4 April, 23:00: the window starts at 5 March, 00:00
    kept = setting.poll(url, **{"If-None-Match": tag})
    assert kept.status_code == 200  # a new day: fetched once more, the session still in it
    assert len(vevents(kept.data)) == 1
    tag = kept.headers["ETag"]
    assert setting.poll(url, **{"If-None-Match": tag}).status_code == 304
    setting.clock.advance(hours=2)  # 5 April, 01:00: the window starts at 6 March, 00:00
    emptied = setting.poll(url, **{"If-None-Match": tag})
    assert emptied.status_code == 200
    assert vevents(emptied.data) == []


def test_a_poll_reads_the_same_few_rows_however_many_sessions(setting: Setting) -> None:
    url = setting.supporter_url("Ash")
    engine = runtime(setting.app).engine
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    def queries_for_one_poll(status: int = 200, **headers: str) -> int:
        statements.clear()
        event.listen(engine, "before_cursor_execute", count)
        try:
            assert setting.poll(url, **headers).status_code == status
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(statements)

    setting.book("Ash", THURSDAY + timedelta(hours=9))
    one = queries_for_one_poll()
    for hour in (11, 13, 15, 17):
        setting.book("Ash", THURSDAY + timedelta(hours=hour), student=BEN)
    assert queries_for_one_poll() == one <= 3, statements  # the feed and its state, BEGIN, rows
    tag = setting.poll(url).headers["ETag"]
    # unchanged: none, while the calendar watch has seen no change (lms.feeds.polls);
    # otherwise the feed, its owner and their calendar version in one statement, no BEGIN
    assert queries_for_one_poll(304, **{"If-None-Match": tag}) == 0, statements
    runtime(setting.app).calendar_watch.stop()  # type: ignore[union-attr]
    assert queries_for_one_poll(304, **{"If-None-Match": tag}) == 1, statements


# -- making, rotating and revoking URLs ------------------------------------------------------


def test_the_same_url_until_rotated_or_revoked_and_then_404_without_a_hint(
    setting: Setting,
) -> None:
    token = setting.world.supporter_token("Ash")
    made = setting.client.post("/lms/feeds/supporter", headers=auth(token))
    assert made.status_code == 201
    assert made.headers["Cache-Control"] == "no-store"
    again = setting.client.post("/lms/feeds/supporter", headers=auth(token))
    assert again.status_code == 200 and again.json["url"] == made.json["url"]

    rotated = setting.client.post("/lms/feeds/supporter/rotate", headers=auth(token))
    assert rotated.status_code == 200
    new_url = rotated.json["url"]
    assert new_url != made.json["url"]
    old = setting.poll(made.json["url"])
    assert setting.poll(new_url).status_code == 200

    revoked = setting.client.delete("/lms/feeds/supporter", headers=auth(token))
    assert revoked.status_code == 204
    dead = setting.poll(new_url)
    never = setting.poll(f"{PUBLIC}/feeds/plf_{'A' * 43}.ics")
    garbled = setting.poll(f"{PUBLIC}/feeds/not-a-token.ics")
    for answer in (old, dead, never, garbled):
        assert answer.status_code == 404
        assert answer.data == dead.data == b"No such calendar feed.\n"
    assert setting.client.delete("/lms/feeds/supporter", headers=auth(token)).status_code == 204
    fresh = setting.client.post("/lms/feeds/supporter", headers=auth(token))
    assert fresh.status_code == 201 and fresh.json["url"] not in (made.json["url"], new_url)


def test_who_may_manage_a_supporters_feed(setting: Setting, tmp_path: Any) -> None:
    client, world = setting.client, setting.world
    ash, birch = world.supporters["Ash"]["id"], world.supporters["Birch"]["id"]
    ash_token = world.supporter_token("Ash")
    coordinator = issue_token(setting.app, "coordinator", "acme")
    other = make_world(setting.app, client, slug="other", name="Other College", kind="school")

    def post(token: str | None, supporter_id: str | None = None, path: str = "") -> Any:
        query = f"?supporter_id={supporter_id}" if supporter_id else ""
        headers = auth(token) if token else {}
        return client.post(f"/lms/feeds/supporter{path}{query}", headers=headers)

    assert post(None).status_code == 401
    assert post("plt_not-a-real-token").status_code == 401
    assert post(setting.book("Ash", THURSDAY + timedelta(hours=10))["token"]).status_code == 401
    assert post(world.service, ash).status_code == 403
    assert post(ash_token, birch).status_code == 403  # a supporter: only their own
    theirs = client.delete(f"/lms/feeds/supporter?supporter_id={birch}", headers=auth(ash_token))
    assert theirs.status_code == 403
    denied = client.delete(f"/lms/feeds/supporter?supporter_id={ash}", headers=auth(other.admin))
    assert denied.status_code == 404  # another program's admin: not even that it exists
    assert post(world.admin, "not-a-uuid").status_code == 422
    for staff in (world.admin, coordinator, other.admin):  # a feed names requesters' aliases
        assert post(staff, ash).status_code == 403
        assert post(staff, ash, "/rotate").status_code == 403
        assert post(staff).status_code == 403

    own = post(ash_token)
    assert own.status_code == 201
    assert post(ash_token).json["url"] == own.json["url"]
    assert setting.poll(own.json["url"]).status_code == 200
    rotated = post(ash_token, None, "/rotate")
    assert rotated.status_code == 200 and setting.poll(own.json["url"]).status_code == 404
    assert setting.poll(rotated.json["url"]).status_code == 200
    stopped = client.delete(f"/lms/feeds/supporter?supporter_id={ash}", headers=auth(coordinator))
    assert stopped.status_code == 204, "staff can stop a feed (a lost phone, say)"
    assert setting.poll(rotated.json["url"]).status_code == 404

    ctx = system_ctx(setting.app)
    with ctx.session:
        from core.services import audit

        actions = [e.action for e in audit.list_events(ctx, setting.program_id(), limit=500)]
    assert {"feed.issued", "feed.rotated", "feed.revoked"} <= set(actions)


def test_an_offboarded_supporters_feed_stops(setting: Setting) -> None:
    url = setting.supporter_url("Ash")
    assert setting.poll(url).status_code == 200, "polled, and on PostgreSQL kept"
    ash = setting.world.supporters["Ash"]["id"]
    off = setting.client.post(
        f"/api/v1/supporters/{ash}/offboard", headers=auth(setting.world.admin)
    )
    assert off.status_code == 200, off.json
    assert setting.poll(url).status_code == 404
    token = setting.world.supporter_token("Ash")
    again = setting.client.post("/lms/feeds/supporter", headers=auth(token))
    assert again.status_code == 409, "no new feed for someone who has left"


def test_tokens_are_unguessable_and_only_their_digests_are_stored(setting: Setting) -> None:
    urls = [setting.supporter_url("Ash"), setting.supporter_url("Birch")]
    urls.append(student_feed_url(runtime(setting.app), setting.program_id(), ANNA))
    tokens = [urlsplit(u).path.removeprefix("/feeds/").removesuffix(".ics") for u in urls]
    assert len(set(tokens)) == 3
    for token in tokens:
        assert re.fullmatch(r"plf_[A-Za-z0-9_-]{43}", token)  # 256 bits
    with runtime(setting.app).engine.connect() as connection:
        rows = connection.execute(select(FEEDS)).all()
    stored = " ".join(str(value) for row in rows for value in row)
    for token in tokens:
        assert token not in stored and token.removeprefix("plf_") not in stored
    assert {row.token_digest for row in rows} == {
        hashlib.sha256(t.encode()).hexdigest() for t in tokens
    }
    assert "a6f1" not in stored and "canvas" not in stored
    (student_row,) = [row for row in rows if row.student_key is not None]
    assert student_row.student_key == runtime(setting.app).cipher.lookup_hash("lti", ANNA)


def test_a_changed_secret_key_gives_new_urls_and_kills_the_old(
    database_url: str, tmp_path: Any, clock: FrozenClock
) -> None:
    first = make_setting(database_url, tmp_path, clock, public_url=PUBLIC, secret_key="a" * 40)
    token = first.world.supporter_token("Ash")
    old = first.supporter_url("Ash")
    assert first.poll(old).status_code == 200
    runtime(first.app).engine.dispose()
    second = make_app(
        database_url,
        tmp_path,
        clock,
        plugins=[("lms-feeds", init_feeds)],
        public_url=PUBLIC,
        secret_key="b" * 40,
    )
    client = second.test_client()
    assert client.get(urlsplit(old).path).status_code == 200  # polls need no key
    new = client.post("/lms/feeds/supporter", headers=auth(token)).json["url"]
    assert new != old
    assert client.get(urlsplit(old).path).status_code == 404
    assert client.get(urlsplit(new).path).status_code == 200
    runtime(second).engine.dispose()


def test_the_console_revokes_a_supporters_feed(setting: Setting) -> None:
    url = setting.supporter_url("Ash")
    runner = setting.app.test_cli_runner()
    done = runner.invoke(args=["feeds", "revoke", "--supporter", "Ash", "--program", "acme"])
    assert done.exit_code == 0, done.output
    assert done.output == "revoked the calendar feed of Ash\n"
    assert setting.poll(url).status_code == 404
    again = runner.invoke(args=["feeds", "revoke", "--supporter", "Ash", "--program", "acme"])
    assert again.output == "Ash had no calendar feed\n"
    nobody = runner.invoke(args=["feeds", "revoke", "--supporter", "Nobody", "--program", "acme"])
    assert nobody.exit_code != 0 and "no supporter 'Nobody' in acme" in nobody.output
    nowhere = runner.invoke(args=["feeds", "revoke", "--supporter", "Ash", "--program", "nope"])
    assert nowhere.exit_code != 0 and "no program 'nope'" in nowhere.output


# -- a student's feed ------------------------------------------------------------------------


def test_a_students_feed_holds_only_their_bookings_and_says_nothing_else(
    setting: Setting,
) -> None:
    current, program_id = runtime(setting.app), setting.program_id()
    kept = setting.book("Ash", THURSDAY + timedelta(hours=10))
    cancelled = setting.book("Birch", THURSDAY + timedelta(hours=13))
    bens = setting.book("Birch", THURSDAY + timedelta(hours=10), student=BEN)
    url = student_feed_url(current, program_id, ANNA)
    assert student_feed_url(current, program_id, ANNA) == url  # the same while it lives
    assert student_feed_url(current, program_id, BEN) != url

    raw = setting.poll(url).data
    assert_well_formed(raw)
    assert [e["UID"] for e in vevents(raw)] == [
        kept["booking"]["calendar_uid"],
        cancelled["booking"]["calendar_uid"],
    ]
    for event_ in vevents(raw):
        assert str(event_["SUMMARY"]) == "Peer chat"
        assert str(event_["DESCRIPTION"]) == "A video call, booked through PeerLine."
    for alias in ("Ash", "Birch", kept["alias"], bens["alias"]):
        assert alias not in raw.decode()

    gone = setting.client.post(
        f"/api/v1/bookings/{cancelled['booking']['id']}/cancel",
        json={},
        headers=auth(cancelled["token"]),
    )
    assert gone.status_code == 200, gone.json
    assert [e["UID"] for e in vevents(setting.poll(url).data)] == [kept["booking"]["calendar_uid"]]

    assert revoke_student_feed(current, program_id, ANNA) is True
    assert setting.poll(url).status_code == 404
    assert revoke_student_feed(current, program_id, ANNA) is False
    assert student_feed_url(current, program_id, ANNA) != url


def test_without_a_public_url_the_feed_url_is_where_the_page_was_served(
    database_url: str, tmp_path: Any, clock: FrozenClock
) -> None:
    built = make_setting(database_url, tmp_path, clock)
    current, program_id = runtime(built.app), built.program_id()
    with built.app.test_request_context(base_url="https://lms-proxy.example.edu"):
        url = student_feed_url(current, program_id, ANNA)
    assert url.startswith("https://lms-proxy.example.edu/feeds/plf_")
    from core.errors import ConfigError

    with pytest.raises(ConfigError, match="PEERLINE_PUBLIC_URL"):
        student_feed_url(current, program_id, ANNA)
    runtime(built.app).engine.dispose()


# -- what is written -------------------------------------------------------------------------

STARTS = datetime(2026, 3, 5, 10, tzinfo=UTC)


def session(mode: str = "video", **changes: Any) -> FeedSession:
    if "starts_at" in changes:
        changes.setdefault("ends_at", changes["starts_at"] + timedelta(minutes=45))
    fields = {
        "uid": "b-1@peerline",
        "sequence": 2,
        "starts_at": STARTS,
        "ends_at": STARTS + timedelta(minutes=45),
        "updated_at": STARTS - timedelta(days=1),
        "mode": mode,
        "request_alias": "Blue Heron",
        **changes,
    }
    return FeedSession(**fields)


def test_a_video_sessions_join_link_is_written_when_known_and_https() -> None:
    link = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_abc/0?context=%7b%7d"
    raw = content.calendar([session()], for_supporter=True, join_links={"b-1@peerline": link})
    assert_well_formed(raw)
    (event_,) = vevents(raw)
    assert any(line.startswith(b" ") for line in raw.split(b"\r\n"))  # the long link was folded
    assert str(event_["LOCATION"]) == link
    assert str(event_["DESCRIPTION"]).endswith(f"\nJoin: {link}")
    for bad in ("http://example.org/join", "https://example.org/a b", "javascript:alert(1)"):
        raw = content.calendar([session()], for_supporter=True, join_links={"b-1@peerline": bad})
        assert b"LOCATION" not in raw and b"Join" not in raw
    text_chat = content.calendar([session("text")], for_supporter=False, join_links={"b-1": link})
    assert b"LOCATION" not in text_chat
    assert str(vevents(text_chat)[0]["DESCRIPTION"]) == "A text chat, booked through PeerLine."


def test_a_thousand_sessions_make_one_feed_an_independent_parser_reads_whole() -> None:
    """Speed against icalendar is the benchmarks' business (bench/), never a timed test."""
    found = [
        session(uid=f"{uuid.uuid4()}@peerline", starts_at=STARTS + timedelta(hours=n))
        for n in range(1000)
    ]
    parsed = icalendar.Calendar.from_ical(content.calendar(found, for_supporter=True))
    uids = [str(event["UID"]) for event in parsed.walk("VEVENT")]
    assert uids == [s.uid for s in found]


def test_the_lms_plugin_serves_feeds(database_url: str, tmp_path: Any, clock: FrozenClock) -> None:
    from lms.plugin import init_app as init_lms

    app = make_app(database_url, tmp_path, clock, plugins=[("lms", init_lms)], public_url=PUBLIC)
    client = app.test_client()
    world = make_world(app, client)
    world.add_supporter("Ash", weekly=EVERY_WEEKDAY)
    made = client.post("/lms/feeds/supporter", headers=auth(world.supporter_token("Ash")))
    assert made.status_code == 201, made.json
    assert client.get(urlsplit(made.json["url"]).path).status_code == 200
    assert "feeds" in app.cli.commands
    runtime(app).engine.dispose()
