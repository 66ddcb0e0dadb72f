"""Why an LTI request was refused: a code safe to log and words a student understands."""

from __future__ import annotations

from core.errors import PeerLineError

RETRY = "Try opening PeerLine again from your course."


class LtiRefused(PeerLineError):
    """A login, launch or registration PeerLine will not act on; nothing was stored for it.

    `reason` is a short code for logs (never a token, a subject or a URL with secrets);
    `explanation` is shown on the error page.
    """

    def __init__(self, reason: str, explanation: str, *, status: int = 400) -> None:
        super().__init__(explanation)
        self.reason = reason
        self.explanation = explanation
        self.status = status
        self.code = f"lti_{reason}"


def bad_request(reason: str, explanation: str) -> LtiRefused:
    """The request itself is malformed or incomplete (400)."""
    return LtiRefused(reason, explanation, status=400)


def not_authentic(reason: str) -> LtiRefused:
    """The launch cannot be proven to come from the course, just now, for this browser (401)."""
    return LtiRefused(
        reason,
        "PeerLine could not confirm that this link came from your course. "
        "Links from a course only work once and only for a few minutes.",
        status=401,
    )


def not_registered(reason: str, explanation: str) -> LtiRefused:
    """The platform or deployment is not one PeerLine was set up with (403)."""
    return LtiRefused(reason, explanation, status=403)
