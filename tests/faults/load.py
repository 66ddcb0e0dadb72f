"""Booking load from threads, each answer tagged with the phase of a fault test it fell in."""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass
from typing import Any

import requests

from tests.e2e.test_workers import wait_for
from tests.helpers import auth, request_body

TIMEOUT = (5, 30)  # (connect, read) seconds for each HTTP call
BOOKERS = 6


@dataclass(frozen=True)
class Reply:
    """One booking attempt: the phase it was sent and answered in, and what came back."""

    sent: str
    answered: str
    status: int
    body: Any
    raw: str
    retry_after: str | None


class BookingLoad:
    """Threads booking scheduled chats, two attempts per slot so some collide, until stopped."""

    def __init__(self, base: str, slots: list[dict[str, Any]], token: str) -> None:
        self.base, self.slots = base, slots
        self.headers = auth(token)  # an integration's token: the intake's rate limit is not ours
        self.phase = "steady"
        self.replies: list[Reply] = []
        self._numbers = itertools.count()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._go = threading.Event()
        self._go.set()
        self._in_flight = 0
        self._threads = [threading.Thread(target=self._book, daemon=True) for _ in range(BOOKERS)]

    def __enter__(self) -> BookingLoad:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def answered_in(self, phase: str) -> list[Reply]:
        with self._lock:
            return [r for r in self.replies if r.sent == phase == r.answered]

    def count(self) -> int:
        with self._lock:
            return len(self.replies)

    def pause(self) -> None:
        """Stop sending, and wait for the answers to what was sent."""
        self._go.clear()
        wait_for(lambda: self._in_flight == 0, "requests in flight to be answered")

    def resume(self) -> None:
        self._go.set()

    def _book(self) -> None:
        with requests.Session() as http:
            while not self._stop.is_set():
                if not self._go.wait(0.05):
                    continue
                slot = self.slots[(next(self._numbers) // 2) % len(self.slots)]
                choice = {"supporter_id": slot["supporter"]["id"], "starts_at": slot["starts_at"]}
                body = request_body(urgency="scheduled", mode="video", slot=choice)
                with self._lock:
                    self._in_flight += 1
                sent = self.phase
                try:
                    answer = http.post(
                        f"{self.base}/api/v1/requests",
                        json=body,
                        headers=self.headers,
                        timeout=TIMEOUT,
                    )
                except requests.RequestException as error:  # the app must answer, always
                    self._keep(Reply(sent, self.phase, 0, None, repr(error), None))
                    continue
                self._keep(self._reply(sent, answer))

    def _reply(self, sent: str, answer: requests.Response) -> Reply:
        try:
            body: Any = answer.json()
        except ValueError:
            body = None
        retry_after = answer.headers.get("Retry-After")
        return Reply(sent, self.phase, answer.status_code, body, answer.text, retry_after)

    def _keep(self, reply: Reply) -> None:
        with self._lock:
            self.replies.append(reply)
            self._in_flight -= 1
