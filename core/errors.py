"""One error hierarchy for the core; the API maps each class to one HTTP status."""

from __future__ import annotations

from typing import Any


class PeerLineError(Exception):
    """Base of every error the core raises on purpose."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details


class ConfigError(PeerLineError):
    """A missing or malformed setting; raised at start-up."""

    code = "configuration"


class ValidationFailed(PeerLineError):
    """Input that parses but breaks a rule (end before start, past time, unknown zone)."""

    status = 422
    code = "validation_failed"


class Unauthorized(PeerLineError):
    status = 401
    code = "unauthorized"


class Forbidden(PeerLineError):
    status = 403
    code = "forbidden"


class NotFound(PeerLineError):
    status = 404
    code = "not_found"


class Conflict(PeerLineError):
    """The state moved on: slot taken, offer already taken, request already closed."""

    status = 409
    code = "conflict"


class SlotUnavailable(Conflict):
    code = "slot_unavailable"


class AlreadyTaken(Conflict):
    code = "already_taken"


class ChangeClosed(Conflict):
    """A requester's cancel or move after the program's cut-off before the session."""

    code = "change_closed"


class CsvImportFailed(PeerLineError):
    """A roster file with row errors; nothing was imported."""

    status = 422
    code = "import_failed"

    def __init__(self, row_errors: list[dict[str, Any]]) -> None:
        super().__init__(f"{len(row_errors)} row error(s); nothing was imported")
        self.row_errors = row_errors
