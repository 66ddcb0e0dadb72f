"""A feed's ETag changes whenever its body would, so a 304 never keeps a stale calendar.

The 304 path reads only the owner's calendar version, which database triggers bump; each
test makes one kind of change and checks that the old ETag no longer answers 304, and that
the new body differs. Bodies are compared, not just tags: a tag that changes with the body
is the point.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, update

from core.clock import FrozenClock
from core.models import Booking, RequesterIdentity
from core.runtime import runtime
from lms.feeds import student_feed_url
from tests.helpers import auth
from tests.lms.test_feeds import (
    ANNA,
    BEN,
    PUBLIC,
    THURSDAY,
    Setting,
    iso,
    make_setting,
    vevents,
)


@pytest.fixture
def setting(database_url: str, tmp_path: Any, clock: FrozenClock) -> Iterator[Setting]:
    built = make_setting(database_url, tmp_path, clock, public_url=PUBLIC)
    yield built
    runtime(built.app).engine.dispose()


def seen(setting: Setting, url: str) -> tuple[str, bytes]:
    """The feed's ETag and body now, and a check that an immediate re-poll is a 304."""
    response = setting.poll(url)
    assert response.status_code == 200
    tag = response.headers["ETag"]
    assert setting.poll(url, **{"If-None-Match": tag}).status_code == 304
    return tag, response.data


def assert_changed(setting: Setting, url: str, before: tuple[str, bytes]) -> bytes:
    """The old ETag gets the new body, not a 304; returns that body."""
    tag, body = before
    response = setting.poll(url, **{"If-None-Match": tag})
    assert response.status_code == 200, "a stale 304: the feed changed but its ETag did not"
    assert response.headers["ETag"] != tag
    assert response.data != body
    return bytes(response.data)


def post(setting: Setting, path: str, token: str, **body: Any) -> None:
    response = setting.client.post(path, json=body, headers=auth(token))
    assert response.status_code == 200, response.json


def move(setting: Setting, made: dict[str, Any], at: datetime, **to: Any) -> None:
    """The requester reschedules (to=supporter_id=… for another supporter)."""
    path = f"/api/v1/bookings/{made['booking']['id']}/reschedule"
    post(setting, path, made["token"], starts_at=iso(at), **to)


def cancel(setting: Setting, made: dict[str, Any]) -> None:
    post(setting, f"/api/v1/bookings/{made['booking']['id']}/cancel", made["token"])


def test_a_booking_added_changes_the_etag(setting: Setting) -> None:
    setting.book("Ash", THURSDAY + timedelta(hours=10))
    url = setting.supporter_url("Ash")
    before = seen(setting, url)
    setting.clock.advance(minutes=1)
    setting.book("Ash", THURSDAY + timedelta(hours=12), student=BEN)
    assert len(vevents(assert_changed(setting, url, before))) == 2


def test_a_booking_moved_in_time_changes_the_etag(setting: Setting) -> None:
    made = setting.book("Ash", THURSDAY + timedelta(hours=10))
    url = setting.supporter_url("Ash")
    before = seen(setting, url)
    setting.clock.advance(minutes=1)
    moved = THURSDAY + timedelta(hours=11)
    move(setting, made, moved)
    (event,) = vevents(assert_changed(setting, url, before))
    assert event.decoded("DTSTART") == moved and event["SEQUENCE"] == 1


def test_a_booking_moved_to_another_supporter_changes_both_feeds(setting: Setting) -> None:
    made = setting.book("Ash", THURSDAY + timedelta(hours=10))
    ash, birch = setting.supporter_url("Ash"), setting.supporter_url("Birch")
    before_ash, before_birch = seen(setting, ash), seen(setting, birch)
    setting.clock.advance(minutes=1)
    birch_id = setting.world.supporters["Birch"]["id"]
    move(setting, made, THURSDAY + timedelta(hours=10), supporter_id=birch_id)
    assert vevents(assert_changed(setting, ash, before_ash)) == []
    assert len(vevents(assert_changed(setting, birch, before_birch))) == 1


def test_a_booking_cancelled_or_completed_changes_the_etag(setting: Setting) -> None:
    cancelled = setting.book("Ash", THURSDAY + timedelta(hours=10))
    completed = setting.book("Ash", THURSDAY + timedelta(hours=12), student=BEN)
    url = setting.supporter_url("Ash")
    before = seen(setting, url)
    setting.clock.advance(minutes=1)
    cancel(setting, cancelled)
    assert len(vevents(assert_changed(setting, url, before))) == 1
    before = seen(setting, url)
    setting.clock.advance(minutes=1)
    close = f"/api/v1/requests/{completed['id']}/close"
    post(setting, close, setting.world.service, outcome="completed")
    assert vevents(assert_changed(setting, url, before)) == []


def test_a_move_committed_after_a_newer_change_still_changes_the_etag(setting: Setting) -> None:
    """Writes are stamped when their request starts, so commits can land out of order."""
    early = setting.book("Ash", THURSDAY + timedelta(hours=10))
    setting.clock.advance(minutes=10)
    setting.book("Ash", THURSDAY + timedelta(hours=14), student=BEN)  # the newest stamp
    url = setting.supporter_url("Ash")
    before = seen(setting, url)
    setting.clock.advance(minutes=-5)  # a move whose request began before that booking
    move(setting, early, THURSDAY + timedelta(hours=11))
    assert_changed(setting, url, before)


def test_a_cancel_and_a_booking_together_still_change_the_etag(setting: Setting) -> None:
    """The count stays the same; the cancelled booking's sequence and the new stamp do not."""
    gone = setting.book("Ash", THURSDAY + timedelta(hours=10))
    url = setting.supporter_url("Ash")
    before = seen(setting, url)
    setting.clock.advance(minutes=1)
    cancel(setting, gone)
    setting.book("Ash", THURSDAY + timedelta(hours=15), student=BEN)
    (event,) = vevents(assert_changed(setting, url, before))
    assert event.decoded("DTSTART") == THURSDAY + timedelta(hours=15)


def test_a_students_feed_changes_with_their_bookings_and_when_they_are_erased(
    setting: Setting,
) -> None:
    """A student's feed goes by their identity: a booking, a cancel and the identity's erasure."""
    url = student_feed_url(runtime(setting.app), setting.program_id(), ANNA)
    before = seen(setting, url)
    setting.clock.advance(minutes=1)
    made = setting.book("Ash", THURSDAY + timedelta(hours=10))  # the identity is stored after
    setting.book("Birch", THURSDAY + timedelta(hours=10), student=BEN)
    assert len(vevents(assert_changed(setting, url, before))) == 1
    before = seen(setting, url)
    kept = setting.book("Birch", THURSDAY + timedelta(hours=12))
    cancel(setting, made)
    (event,) = vevents(assert_changed(setting, url, before))
    assert str(event["UID"]) == kept["booking"]["calendar_uid"]
    before = seen(setting, url)
    with runtime(setting.app).engine.begin() as connection:  # as retention erases identities
        request_id = uuid.UUID(kept["id"])
        connection.execute(
            delete(RequesterIdentity).where(RequesterIdentity.request_id == request_id)
        )
    assert vevents(assert_changed(setting, url, before)) == []


def test_a_change_made_outside_the_services_still_changes_the_etag(setting: Setting) -> None:
    """The database bumps the version itself: a repair made with plain SQL is seen too."""
    made = setting.book("Ash", THURSDAY + timedelta(hours=10))
    url = setting.supporter_url("Ash")
    before = seen(setting, url)
    later = {"starts_at": THURSDAY + timedelta(hours=16), "ends_at": THURSDAY + timedelta(hours=17)}
    with runtime(setting.app).engine.begin() as connection:
        booking_id = uuid.UUID(made["booking"]["id"])
        connection.execute(update(Booking).where(Booking.id == booking_id).values(**later))
    (event,) = vevents(assert_changed(setting, url, before))
    assert event.decoded("DTSTART") == later["starts_at"]


def test_a_rotated_feed_has_a_new_etag(setting: Setting) -> None:
    setting.book("Ash", THURSDAY + timedelta(hours=10))
    old = setting.supporter_url("Ash")
    tag, _ = seen(setting, old)
    rotated = setting.client.post(
        "/lms/feeds/supporter/rotate", headers=auth(setting.world.supporter_token("Ash"))
    )
    new = str(rotated.json["url"])
    assert setting.poll(old, **{"If-None-Match": tag}).status_code == 404
    assert setting.poll(new, **{"If-None-Match": tag}).status_code == 200


def test_what_the_feed_does_not_show_leaves_body_and_etag_alone(setting: Setting) -> None:
    """The supporter's own alias and the program's horizon are not in the feed: still a 304."""
    setting.book("Ash", THURSDAY + timedelta(days=20, hours=10))
    url = setting.supporter_url("Ash")
    tag, body = seen(setting, url)
    setting.clock.advance(hours=2)
    supporter = setting.world.supporters["Ash"]["id"]
    admin = auth(setting.world.admin)
    for path, change in (
        (f"/api/v1/supporters/{supporter}", {"alias": "Rowan"}),
        ("/api/v1/programs/acme", {"policy": {"horizon_days": 7}}),
    ):
        changed = setting.client.patch(path, json=change, headers=admin)
        assert changed.status_code == 200, changed.json
    assert setting.poll(url, **{"If-None-Match": tag}).status_code == 304
    assert setting.poll(url).data == body  # a session booked before the horizon shrank stays
