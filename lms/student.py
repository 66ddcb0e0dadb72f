"""Who is booking: the student a validated LTI launch vouched for, carried without cookies.

Browsers block third-party cookies in an LMS iframe, so after a launch the student's
session travels as a sealed token in the booking page's URL and forms: Fernet-encrypted
with the deployment's identity keys (so the LTI subject is never readable in a URL), and
valid for `SESSION_TTL` after the launch. Nothing is stored for it.

A student is a requester on platform `lti` whose subject is the launch's issuer and `sub`
(opaque and stable for that platform), so the same person is found again on every launch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.runtime import Runtime

PLATFORM = "lti"
SESSION_TTL = timedelta(hours=2)


@dataclass(frozen=True)
class Student:
    """A launched student (or instructor): program, identity subject, roles, locale."""

    program: str  # the program's slug
    subject: str  # subject_of(iss, sub): the requester identity on platform "lti"
    roles: tuple[str, ...] = ()
    locale: str | None = None

    @property
    def is_instructor(self) -> bool:
        markers = ("#Instructor", "#Administrator", "/Instructor", "/Administrator")
        return any(role.endswith(markers) for role in self.roles)


def subject_of(issuer: str, sub: str) -> str:
    """One string per person per platform: the issuer URL and the platform's opaque `sub`."""
    return f"{issuer} {sub}"


def seal(runtime: Runtime, student: Student) -> str:
    """An opaque token for URLs and forms; it carries the time it was made."""
    payload = {
        "p": student.program,
        "s": student.subject,
        "r": list(student.roles),
        "l": student.locale,
        "t": runtime.clock.now().timestamp(),
    }
    return runtime.cipher.encrypt(json.dumps(payload)).decode()


def unseal(runtime: Runtime, token: str) -> Student | None:
    """The student, or None for anything forged, garbled, from other keys or too old."""
    try:
        payload = json.loads(runtime.cipher.decrypt(token.encode()))
        made = datetime.fromtimestamp(float(payload["t"]), UTC)
        student = Student(
            program=str(payload["p"]),
            subject=str(payload["s"]),
            roles=tuple(str(r) for r in payload["r"]),
            locale=payload["l"] if isinstance(payload["l"], str) else None,
        )
    except (ValueError, KeyError, TypeError):
        return None
    now = runtime.clock.now()
    if not now - SESSION_TTL <= made <= now + timedelta(minutes=1):
        return None
    return student
