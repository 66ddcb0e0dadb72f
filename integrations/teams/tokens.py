"""App-only tokens for the Bot Connector and Graph, from one msal client per process.

msal keeps the tokens in its in-memory cache and only asks Entra ID again near expiry.
A failure names msal's error code at most: never the client secret, never a token.
"""

from __future__ import annotations

import threading
from typing import Any

import msal  # type: ignore[import-untyped]
import requests

CONNECTOR_SCOPE = "https://api.botframework.com/.default"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
DEFAULT_AUTHORITY_HOST = "https://login.microsoftonline.com"
MSAL_TIMEOUT = 10.0  # seconds; used when msal builds its own HTTP session
# Entra ID's words for a fault on its side that a later attempt may not meet
TRANSIENT_CODES = frozenset({"temporarily_unavailable", "server_error"})


class TokenError(Exception):
    """No token: `reason` is msal's error code or the kind of network fault, nothing more."""

    def __init__(self, reason: str, *, transient: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient


class TokenProvider:
    """Client-credential tokens for the bot's app registration (single-tenant)."""

    def __init__(
        self,
        *,
        app_id: str,
        password: str,
        tenant_id: str,
        authority_host: str = DEFAULT_AUTHORITY_HOST,
        http_client: requests.Session | None = None,
    ) -> None:
        """Nothing is fetched yet: msal discovers the tenant on the first token request."""
        self._app_id = app_id
        self._password = password
        self._authority = f"{authority_host.rstrip('/')}/{tenant_id}"
        self._http_client = http_client
        self._app: Any = None
        self._lock = threading.Lock()

    def connector_token(self) -> str:
        """A bearer token the Bot Connector accepts (sending, updating, opening chats)."""
        return self._token(CONNECTOR_SCOPE)

    def graph_token(self) -> str:
        """A bearer token for Microsoft Graph (meetings, free/busy)."""
        return self._token(GRAPH_SCOPE)

    def _token(self, scope: str) -> str:
        """msal answers from its cache while the token is fresh, else asks Entra ID."""
        try:
            result = self._client().acquire_token_for_client(scopes=[scope])
        except requests.Timeout:
            raise TokenError("the token endpoint did not answer in time", transient=True) from None
        except requests.RequestException as error:
            reason = f"could not reach the token endpoint ({type(error).__name__})"
            raise TokenError(reason, transient=True) from None
        except ValueError:  # tenant discovery failed: wrong tenant id or authority host
            raise TokenError("authority discovery failed (check tenant id and host)") from None
        return _access_token(result)

    def _client(self) -> Any:
        """One ConfidentialClientApplication, made on first use so its cache is shared."""
        with self._lock:
            if self._app is None:
                self._app = msal.ConfidentialClientApplication(
                    self._app_id,
                    client_credential=self._password,
                    authority=self._authority,
                    # the host is our own configuration, trusted as given: no call to
                    # login.microsoftonline.com to vouch for it (sovereign clouds, tests)
                    instance_discovery=False,
                    http_client=self._http_client,
                    timeout=MSAL_TIMEOUT,
                )
            return self._app


def _access_token(result: object) -> str:
    """The token from msal's answer, or a TokenError carrying only its error code."""
    if isinstance(result, dict):
        token = result.get("access_token")
        if isinstance(token, str) and token:
            return token
        code = result.get("error")
        if isinstance(code, str) and code.replace("_", "").isalnum():
            raise TokenError(code, transient=code in TRANSIENT_CODES)
    raise TokenError("the token endpoint gave no token")
