"""Canvas OAuth2 for the developer key: the admin's one-time grant, then 1-hour access tokens.

The refresh token is stored encrypted (the deployment's identity keys), one per program.
Access tokens live in memory only, refreshed five minutes before they expire or when Canvas
answers 401, once. A refresh Canvas refuses marks the connection `refused` with the reason,
which admins see (`/lms/canvas/status`, dead letters) until someone connects again.
"""

from __future__ import annotations

import logging
import re
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import requests
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite

from lms.sync.storage import CANVAS_CONNECTIONS

if TYPE_CHECKING:
    from core.runtime import Runtime

log = logging.getLogger(__name__)
EARLY = timedelta(minutes=5)  # refresh this long before Canvas says a token expires
_CODE = re.compile(r"^[a-z_]{1,40}$")


class CanvasError(Exception):
    """A Canvas call that did not succeed; `permanent` ones are not worth another try."""

    def __init__(
        self,
        *,
        permanent: bool,
        reason: str,
        retry_after: float | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(reason)
        self.permanent = permanent
        self.reason = reason
        self.retry_after = retry_after
        self.status = status


@dataclass(frozen=True)
class Grant:
    access_token: str
    expires_in: float
    refresh_token: str | None


class CanvasOAuth:
    """Canvas's `/login/oauth2/auth` and `/login/oauth2/token` for one developer key."""

    def __init__(
        self,
        *,
        base_url: str,
        client_id: str,
        client_secret: str,
        scopes: tuple[str, ...],
        session: requests.Session | None = None,
        timeout: float = 10,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._client_id = client_id
        self._secret = client_secret
        self._scopes = scopes
        self._session = session if session is not None else requests.Session()
        self._timeout = timeout

    def authorize_url(self, state: str, redirect_uri: str) -> str:
        query = {
            "client_id": self._client_id,
            "response_type": "code",
            "redirect_uri": redirect_uri,
            "state": state,
            "scope": " ".join(self._scopes),
        }
        return f"{self._base}/login/oauth2/auth?{urlencode(query)}"

    def exchange(self, code: str, redirect_uri: str) -> Grant:
        grant = self._token(
            {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        )
        if grant.refresh_token is None:
            raise CanvasError(permanent=True, reason="Canvas gave no refresh token")
        return grant

    def refresh(self, refresh_token: str) -> Grant:
        return self._token({"grant_type": "refresh_token", "refresh_token": refresh_token})

    def _token(self, form: dict[str, str]) -> Grant:
        body = {"client_id": self._client_id, "client_secret": self._secret, **form}
        try:
            response = self._session.post(
                f"{self._base}/login/oauth2/token",
                data=body,
                headers={"Accept": "application/json"},
                timeout=self._timeout,
                allow_redirects=False,
            )
        except requests.RequestException as error:
            reason = f"could not reach Canvas for a token ({type(error).__name__})"
            raise CanvasError(permanent=False, reason=reason) from None
        document = _json_or_empty(response)
        if response.status_code >= 500 or response.status_code == 429:
            reason = f"Canvas's token endpoint answered HTTP {response.status_code}"
            raise CanvasError(permanent=False, reason=reason, status=response.status_code)
        if response.status_code != 200:
            raise CanvasError(permanent=True, reason=_refusal(response.status_code, document))
        token, expires = document.get("access_token"), document.get("expires_in", 3600)
        if not isinstance(token, str) or not token or not isinstance(expires, int | float):
            raise CanvasError(permanent=False, reason="Canvas's token answer had no access token")
        refresh = document.get("refresh_token")
        return Grant(token, float(expires), refresh if isinstance(refresh, str) else None)


class CanvasConnections:
    """Which program is connected to Canvas, with its refresh token encrypted at rest."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def save(self, program_id: uuid.UUID, refresh_token: str) -> None:
        engine = self._runtime.engine
        insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        values = {
            "refresh_token": self._runtime.cipher.encrypt(refresh_token),
            "status": "connected",
            "detail": None,
            "updated_at": self._runtime.clock.now(),
        }
        statement = insert(CANVAS_CONNECTIONS).values(program_id=program_id, **values)
        with engine.begin() as connection:
            connection.execute(
                statement.on_conflict_do_update(index_elements=["program_id"], set_=values)
            )

    def refresh_token(self, program_id: uuid.UUID) -> str | None:
        """The stored refresh token of a working connection, or None."""
        row = self._row(program_id)
        if row is None or row.status != "connected":
            return None
        try:
            return self._runtime.cipher.decrypt(row.refresh_token)
        except ValueError:  # its key was dropped from PEERLINE_ENCRYPTION_KEYS
            detail = "the stored Canvas grant cannot be decrypted: connect Canvas again"
            self.refused(program_id, detail)
            return None

    def connected(self, program_id: uuid.UUID) -> bool:
        row = self._row(program_id)
        return row is not None and row.status == "connected"

    def refused(self, program_id: uuid.UUID, detail: str) -> None:
        with self._runtime.engine.begin() as connection:
            connection.execute(
                update(CANVAS_CONNECTIONS)
                .where(CANVAS_CONNECTIONS.c.program_id == program_id)
                .values(status="refused", detail=detail[:300], updated_at=self._runtime.clock.now())
            )

    def status(self, program_id: uuid.UUID) -> dict[str, Any]:
        """What admins see: connected or not, and why not; never the token."""
        row = self._row(program_id)
        if row is None:
            return {"connected": False, "status": "not_connected", "detail": None}
        return {
            "connected": row.status == "connected",
            "status": row.status,
            "detail": row.detail,
            "updated_at": row.updated_at.isoformat(),
        }

    def _row(self, program_id: uuid.UUID) -> Any:
        with self._runtime.engine.connect() as connection:
            return connection.execute(
                select(CANVAS_CONNECTIONS).where(CANVAS_CONNECTIONS.c.program_id == program_id)
            ).first()


class CanvasTokens:
    """Access tokens per program: in memory, refreshed early, or at once when `fresh`."""

    def __init__(self, oauth: CanvasOAuth, connections: CanvasConnections, runtime: Runtime):
        self.oauth = oauth
        self.connections = connections
        self._clock = runtime.clock
        self._cache: dict[uuid.UUID, tuple[str, datetime]] = {}
        self._lock = threading.Lock()

    def access_token(self, program_id: uuid.UUID, *, fresh: bool = False) -> str:
        with self._lock:
            cached = self._cache.get(program_id)
            if cached is not None and not fresh and self._clock.now() < cached[1]:
                return cached[0]
            self._cache.pop(program_id, None)
            refresh = self.connections.refresh_token(program_id)
            if refresh is None:
                detail = self.connections.status(program_id).get("detail")
                reason = detail or "Canvas is not connected: an admin connects it once"
                raise CanvasError(permanent=True, reason=reason)
            try:
                grant = self.oauth.refresh(refresh)
            except CanvasError as error:
                if error.permanent:
                    self.connections.refused(program_id, error.reason)
                    log.warning("Canvas connection refused: %s", error.reason)
                raise
            if grant.refresh_token is not None and grant.refresh_token != refresh:
                self.connections.save(program_id, grant.refresh_token)
            return self._keep(program_id, grant)

    def remember(self, program_id: uuid.UUID, grant: Grant) -> None:
        """The access token that came with a new connection."""
        with self._lock:
            self._keep(program_id, grant)

    def _keep(self, program_id: uuid.UUID, grant: Grant) -> str:
        until = self._clock.now() + timedelta(seconds=grant.expires_in) - EARLY
        self._cache[program_id] = (grant.access_token, until)
        return grant.access_token


def _json_or_empty(response: requests.Response) -> dict[str, Any]:
    try:
        document = response.json()
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def _refusal(status: int, document: dict[str, Any]) -> str:
    """Canvas's OAuth error code (invalid_grant, invalid_client), never its description."""
    code = document.get("error")
    code = code if isinstance(code, str) and _CODE.match(code) else "no error code"
    if code == "invalid_client":
        return (
            f"Canvas refused the developer key (HTTP {status}, invalid_client): "
            "check LMS_CANVAS_CLIENT_ID and LMS_CANVAS_CLIENT_SECRET"
        )
    return (
        f"Canvas refused PeerLine's grant (HTTP {status}, {code}): "
        "an admin must connect Canvas again at /lms/canvas/connect"
    )
