"""A notification channel that records what it is asked to send and answers as scripted."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from core.plugins import PluginHost
from core.ports import DeliveryResult, Notification


@dataclass
class RecordingChannel:
    """Reaches everyone it is told to; answers from `script` first, then `default`."""

    name: str = "chat"
    sent: list[Notification] = field(default_factory=list)
    script: deque[DeliveryResult | Exception] = field(default_factory=deque)
    default: DeliveryResult = field(default_factory=lambda: DeliveryResult(delivered=True))
    reaches: Callable[[Notification], bool] = lambda _n: True
    attempts: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def can_reach(self, notification: Notification) -> bool:
        return self.reaches(notification)

    def deliver(self, notification: Notification) -> DeliveryResult:
        with self._lock:
            self.attempts += 1
            answer = self.script.popleft() if self.script else self.default
        if isinstance(answer, Exception):
            raise answer
        if answer.delivered:
            with self._lock:
                self.sent.append(notification)
        return answer

    def kinds(self, audience: str | None = None) -> list[str]:
        return [n.kind for n in self.sent if audience is None or n.audience == audience]

    def plugin(self) -> tuple[str, Callable[[PluginHost], None]]:
        return (f"recording-{self.name}", lambda host: host.add_channel(self))
