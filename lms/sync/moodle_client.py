"""Moodle's REST web service, for the three calendar functions the sync calls.

    moodle = MoodleClient(base_url=settings.moodle_url, token=token)
    event_id = moodle.create_event(name, description, start, seconds)  # core_calendar_create_…
    moodle.find_event(marker, start)          # core_calendar_get_calendar_events, by our ref
    moodle.delete_event(event_id)             # core_calendar_delete_…; gone already is done

Every call is a POST to /webservice/rest/server.php with the token in the body (never in a
URL, so no access log holds it). Moodle answers its errors as HTTP 200 with an `exception`
and an `errorcode`: those are mapped to permanent or retried MoodleErrors whose reason names
the error code, never Moodle's message (which may quote data) or the token.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import requests

PATH = "/webservice/rest/server.php"
RETRIED = frozenset(
    {"dmlreadexception", "dmlwriteexception", "dmltransactionexception", "sitemaintenance"}
)
GONE = frozenset({"invalidrecord", "invalidrecordunknown"})
HINTS = {
    "invalidtoken": "check LMS_MOODLE_TOKEN",
    "accessexception": "add the core_calendar functions to the token's web service",
    "webservicesnotenabled": "enable web services and the REST protocol in Moodle",
    "nopermissions": "the token's user may not manage its calendar",
}
_CODE = re.compile(r"^[a-z_]{1,60}$")
Form = Sequence[tuple[str, str]]


class MoodleError(Exception):
    """A call that did not succeed; `permanent` ones are not worth another try."""

    def __init__(
        self, *, permanent: bool, reason: str, retry_after: float | None = None, code: str = ""
    ) -> None:
        super().__init__(reason)
        self.permanent = permanent
        self.reason = reason
        self.retry_after = retry_after
        self.code = code


class MoodleClient:
    """Synchronous client for Moodle's REST protocol (moodlewsrestformat=json)."""

    def __init__(
        self,
        *,
        base_url: str,
        token: str,
        session: requests.Session | None = None,
        timeout: float = 10,
    ) -> None:
        self._url = base_url.rstrip("/") + PATH
        self._token = token
        self._session = session if session is not None else requests.Session()
        self._timeout = timeout

    def create_event(self, name: str, description: str, start: int, seconds: int) -> str:
        """A user event (in the calendar of the token's own user: Moodle takes no user id)."""
        answer = self._call(
            "core_calendar_create_calendar_events",
            [
                ("events[0][name]", name),
                ("events[0][description]", description),
                ("events[0][format]", "1"),
                ("events[0][eventtype]", "user"),
                ("events[0][timestart]", str(start)),
                ("events[0][timeduration]", str(seconds)),
            ],
        )
        made = answer.get("events") if isinstance(answer, dict) else None
        if isinstance(made, list) and made and isinstance(made[0], dict) and "id" in made[0]:
            return str(made[0]["id"])
        raise MoodleError(permanent=True, reason=f"Moodle made no event ({_warning(answer)})")

    def find_event(self, marker: str, start: int) -> str | None:
        """Our event at that time whose description carries `marker`, if Moodle has it."""
        answer = self._call(
            "core_calendar_get_calendar_events",
            [
                ("options[userevents]", "1"),
                ("options[siteevents]", "0"),
                ("options[timestart]", str(start)),
                ("options[timeend]", str(start + 1)),
            ],
        )
        found = answer.get("events") if isinstance(answer, dict) else None
        for event in found if isinstance(found, list) else []:
            if isinstance(event, dict) and marker in str(event.get("description") or ""):
                return str(event.get("id"))
        return None

    def delete_event(self, event_id: str) -> None:
        """Delete one event; one that is gone already is as good as deleted."""
        try:
            self._call(
                "core_calendar_delete_calendar_events",
                [("events[0][eventid]", event_id), ("events[0][repeat]", "0")],
            )
        except MoodleError as error:
            if error.code not in GONE:
                raise

    def _call(self, function: str, params: Form) -> Any:
        form = [
            ("wstoken", self._token),
            ("wsfunction", function),
            ("moodlewsrestformat", "json"),
            *params,
        ]
        try:
            response = self._session.post(
                self._url, data=form, timeout=self._timeout, allow_redirects=False
            )
        except requests.Timeout:
            raise MoodleError(permanent=False, reason="Moodle did not answer in time") from None
        except requests.RequestException as error:
            reason = f"could not reach Moodle ({type(error).__name__})"
            raise MoodleError(permanent=False, reason=reason) from None
        if response.status_code == 429 or response.status_code >= 500:
            after = _seconds(response.headers.get("Retry-After"))
            reason = f"Moodle answered HTTP {response.status_code}"
            raise MoodleError(permanent=False, reason=reason, retry_after=after)
        if response.status_code != 200:
            raise MoodleError(permanent=True, reason=f"Moodle answered HTTP {response.status_code}")
        try:
            answer = response.json() if response.content.strip() else None
        except ValueError:
            raise MoodleError(permanent=False, reason="Moodle's answer was not JSON") from None
        if isinstance(answer, dict) and "exception" in answer:
            raise _refusal(answer)
        return answer


def _refusal(answer: dict[str, Any]) -> MoodleError:
    code = str(answer.get("errorcode") or "")
    code = code if _CODE.match(code) else "unknown"
    hint = HINTS.get(code)
    reason = f"Moodle refused the call ({code}" + (f": {hint})" if hint else ")")
    return MoodleError(permanent=code not in RETRIED, reason=reason, code=code)


def _warning(answer: Any) -> str:
    warnings = answer.get("warnings") if isinstance(answer, dict) else None
    if isinstance(warnings, list) and warnings and isinstance(warnings[0], dict):
        code = str(warnings[0].get("warningcode") or "")
        return code if _CODE.match(code) else "a warning"
    return "no answer"


def _seconds(value: str | None) -> float | None:
    try:
        seconds = float(value) if value else None
    except ValueError:
        return None
    return seconds if seconds is not None and 0 <= seconds <= 86_400 else None
