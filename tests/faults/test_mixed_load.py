"""Two `peerline serve` apps and two workers on PostgreSQL and Redis, under mixed load.

Many threads book the same few slots through either app while others ask to talk now and
requesters cancel bookings (freeing slots that others then take). Afterwards no slot is held
twice, every booking answered 201 is stored as it was told (or cancelled by its requester),
and every message decided along the way reached the mail server exactly once.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest
import requests
from flask import Flask
from sqlalchemy import func, select

from core.models import Booking
from tests.e2e.test_workers import Cluster, assert_each_sent_exactly_once, settled, wait_for
from tests.fakes.smtp import FakeSMTP
from tests.helpers import auth, issue_token, request_body, system_ctx
from tests.processes import slots_ahead

pytestmark = [pytest.mark.postgres, pytest.mark.redis]
TIMEOUT = (5, 30)
THREADS = 8
OPERATIONS = ["book"] * 12 + ["book", "talk", "cancel", "book"] * 9


@dataclass
class Load:
    """What the threads did and were told: booked requests wait here to be cancelled."""

    apps: list[str]
    slots: list[dict[str, Any]]
    service: str
    booked: list[dict[str, Any]] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    answers: Counter[tuple[str, int]] = field(default_factory=Counter)
    promised: dict[str, dict[str, Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    numbers: itertools.count[int] = field(default_factory=itertools.count)

    def run(self, kind: str) -> None:
        number = next(self.numbers)
        base = self.apps[number % len(self.apps)]
        action: Callable[[str, int], int | None] = {
            "book": self.book,
            "talk": self.talk,
            "cancel": self.cancel,
        }[kind]
        status = action(base, number)
        if status is not None:
            with self.lock:
                self.answers[(kind, status)] += 1

    def book(self, base: str, number: int) -> int:
        slot = self.slots[number % len(self.slots)]
        choice = {"supporter_id": slot["supporter"]["id"], "starts_at": slot["starts_at"]}
        body = request_body(
            urgency="scheduled", mode="video", email=f"student{number}@school.test", slot=choice
        )
        made = self._post(f"{base}/api/v1/requests", body, self.service)
        if made.status_code == 201:
            with self.lock:
                self.promised[made.json()["booking"]["id"]] = made.json()["booking"]
                self.booked.append(made.json())
        return made.status_code

    def talk(self, base: str, _number: int) -> int:
        return self._post(f"{base}/api/v1/requests", request_body(), self.service).status_code

    def cancel(self, base: str, _number: int) -> int | None:
        with self.lock:
            if not self.booked:
                return None  # nothing booked yet to cancel
            request = self.booked.pop(0)
        url = f"{base}/api/v1/requests/{request['id']}/cancel"
        answer = self._post(url, {}, request["token"])
        if answer.status_code == 200:
            with self.lock:
                self.cancelled.append(request["booking"]["id"])
        return answer.status_code

    def _post(self, url: str, body: dict[str, Any], token: str) -> requests.Response:
        return requests.post(url, json=body, headers=auth(token), timeout=TIMEOUT)


def contested_slots(base: str) -> list[dict[str, Any]]:
    """Every supporter's slot at two start times, hours apart: few slots, many bookers."""
    found = slots_ahead(base, days=1)
    by_time: dict[str, list[dict[str, Any]]] = {}
    for slot in found:
        by_time.setdefault(slot["starts_at"], []).append(slot)
    times = [t for t, group in by_time.items() if len(group) >= 4]
    later = next(t for t in times if _hours_between(times[0], t) >= 3)
    return by_time[times[0]][:4] + by_time[later][:4]


def _hours_between(first: str, second: str) -> float:
    delta = datetime.fromisoformat(second) - datetime.fromisoformat(first)
    return delta.total_seconds() / 3600


def test_two_apps_two_workers_mixed_load_book_each_slot_once_and_notify_once(
    cluster: tuple[Cluster, Flask], smtp: FakeSMTP
) -> None:
    nodes, app = cluster
    service = issue_token(app, "service", "acme")
    load = Load(nodes.apps, contested_slots(nodes.apps[0]), service)
    with ThreadPoolExecutor(THREADS, thread_name_prefix="load") as pool:
        list(pool.map(load.run, OPERATIONS))
    assert {status for _, status in load.answers} <= {200, 201, 409}, load.answers
    assert load.answers[("talk", 201)] == 9 and len(load.cancelled) >= 3, load.answers
    wait_for(lambda: settled(app), "every decided message to be sent")

    with system_ctx(app).session as session:
        stored = {str(b.id): b for b in session.scalars(select(Booking))}
        doubled = session.execute(
            select(Booking.supporter_id, Booking.starts_at)
            .where(Booking.status == "confirmed")
            .group_by(Booking.supporter_id, Booking.starts_at)
            .having(func.count() > 1)
        ).all()
    assert doubled == [], "no slot was booked twice"
    assert set(load.promised) <= set(stored), "every booking answered 201 was committed"
    for booking_id, shown in load.promised.items():
        row = stored[booking_id]
        wanted = "cancelled" if booking_id in load.cancelled else "confirmed"
        assert row.status == wanted, (booking_id, row.status)
        assert str(row.supporter_id) == shown["supporter"]["id"]
        assert row.starts_at == datetime.fromisoformat(shown["starts_at"])
    rebooked = {(b.supporter_id, b.starts_at) for b in stored.values() if b.status == "confirmed"}
    assert len(rebooked) == len(load.promised) - len(load.cancelled)
    kinds = assert_each_sent_exactly_once(app, smtp)
    assert kinds["booking_cancelled"] >= 2 * len(load.cancelled), kinds
    assert kinds["booking_confirmed"] == 2 * len(load.promised) and kinds["offer_made"] >= 9
