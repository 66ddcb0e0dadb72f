"""Sign in with Microsoft (Entra ID) on the console: msal's authorization-code flow.

Single-tenant: only people of TEAMS_TENANT_ID may sign in. The identity is the tenant and
the person's object id (oid), which never changes; the e-mail is only for linking the
account an admin created, on first use. No token is kept: the console needs only who it is.
"""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import msal  # type: ignore[import-untyped]
import requests

from core.errors import PeerLineError, Unauthorized
from core.ports import ExternalIdentity
from integrations.teams.settings import TeamsSettings

log = logging.getLogger(__name__)
MSAL_TIMEOUT = 10.0
CLOCK_SKEW = timedelta(minutes=5)
FORM_POST_ADVICE = "response_mode='form_post' is recommended"
AGAIN = "Sign in again, or with your PeerLine password."
# Entra ID's error codes, in words a person can act on; any other code gets FALLBACK
REASONS = {
    "access_denied": "Signing in with Microsoft was cancelled or not allowed. " + AGAIN,
    "consent_required": "Your organisation's Microsoft admin has not allowed PeerLine yet. "
    "Ask them to grant consent, or sign in with your PeerLine password.",
    "interaction_required": "Microsoft needs you to finish signing in there first. " + AGAIN,
    "login_required": "Microsoft needs you to sign in there first. " + AGAIN,
    "invalid_grant": "This Microsoft sign-in had expired or was already used. " + AGAIN,
    "invalid_client": "Sign-in with Microsoft is not set up correctly here. "
    "Tell whoever runs PeerLine (check TEAMS_CONSOLE_CLIENT_ID and its secret).",
    "unauthorized_client": "Sign-in with Microsoft is not set up correctly here. "
    "Tell whoever runs PeerLine (check the app registration's redirect URI).",
    "temporarily_unavailable": "Microsoft sign-in is not answering just now. "
    "Try again in a few minutes.",
    "server_error": "Microsoft sign-in had a problem. Try again in a few minutes.",
}
FALLBACK = "Microsoft did not sign you in. " + AGAIN
MISMATCH = "This sign-in answer does not belong to the sign-in you started. " + AGAIN
OTHER_TENANT = (
    "That Microsoft account belongs to another organisation. Sign in with your "
    "organisation's work or school account, or with your PeerLine password."
)
UNREACHABLE = "Could not reach Microsoft to sign you in. Try again in a few minutes."


class SignInUnavailable(PeerLineError):
    """Entra ID could not be reached or set up, so the sign-in cannot start."""

    status = 503
    code = "sign_in_unavailable"


class _NothingKept(msal.TokenCache):  # type: ignore[misc]
    """msal caches every token it gets; people's tokens are of no use to us, so none stay."""

    def add(self, event: Any, now: Any = None) -> None:
        return None


class EntraSignIn:
    """The console's "Sign in with Microsoft" button, for one tenant's people."""

    name = "microsoft"
    label = "Sign in with Microsoft"

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        tenant_id: str,
        now: Callable[[], datetime],
        authority_host: str = "https://login.microsoftonline.com",
        http_client: requests.Session | None = None,
    ) -> None:
        """Nothing is fetched yet: msal discovers the tenant on the first sign-in."""
        self._client_id, self._secret, self._tenant = client_id, client_secret, tenant_id
        self._host = authority_host.rstrip("/")
        self._now = now
        self._http_client = http_client
        self._app: Any = None
        self._lock = threading.Lock()

    def begin(self, redirect_uri: str) -> tuple[str, dict[str, Any]]:
        """msal makes the state, nonce and PKCE verifier; the whole flow is kept until back."""
        client = self._client()
        with warnings.catch_warnings():
            # the console's callback is a GET (the answer in the query): PKCE and the one-use
            # code cover what form_post would, and a cross-site POST would lose the kept cookie
            warnings.filterwarnings("ignore", FORM_POST_ADVICE, UserWarning)
            flow = client.initiate_auth_code_flow(
                scopes=[], redirect_uri=redirect_uri, prompt="select_account"
            )
        return str(flow["auth_uri"]), dict(flow)

    def finish(self, kept: dict[str, Any], answer: Mapping[str, str]) -> ExternalIdentity:
        """msal checks state, nonce and PKCE; we check tenant, audience, issuer and times."""
        try:
            result = self._client().acquire_token_by_auth_code_flow(dict(kept), dict(answer))
        except SignInUnavailable:
            raise Unauthorized(UNREACHABLE) from None
        except requests.RequestException as error:
            log.warning("Microsoft sign-in: token endpoint unreachable (%s)", type(error).__name__)
            raise Unauthorized(UNREACHABLE) from None
        except (ValueError, KeyError, TypeError, RuntimeError):  # state, nonce or flow mismatch
            raise Unauthorized(MISMATCH) from None
        if not isinstance(result, dict) or "error" in result or "id_token_claims" not in result:
            raise Unauthorized(_refusal(result))
        return self._identity(result["id_token_claims"])

    def _identity(self, claims: Mapping[str, Any]) -> ExternalIdentity:
        """The person, if the id_token is for us, from our tenant, and current."""
        tid, oid = claims.get("tid"), claims.get("oid")
        if tid != self._tenant:
            log.info("Microsoft sign-in refused: a token from another tenant")
            raise Unauthorized(OTHER_TENANT)
        if claims.get("aud") != self._client_id or claims.get("iss") != self._issuer():
            log.warning("Microsoft sign-in refused: id_token audience or issuer is not ours")
            raise Unauthorized(FALLBACK)
        if not isinstance(oid, str) or not oid or not self._current(claims):
            raise Unauthorized(FALLBACK)
        return ExternalIdentity(
            issuer=f"entra:{tid}", subject=oid, email=_email(claims), name=_text(claims, "name")
        )

    def _issuer(self) -> str:
        return f"{self._host}/{self._tenant}/v2.0"

    def _current(self, claims: Mapping[str, Any]) -> bool:
        """Not expired and not from the future, by the runtime clock, with five minutes' skew."""
        now, skew = self._now().timestamp(), CLOCK_SKEW.total_seconds()
        exp, nbf = claims.get("exp"), claims.get("nbf", claims.get("iat", 0))
        if not isinstance(exp, int | float) or not isinstance(nbf, int | float):
            return False
        return now <= exp + skew and now >= nbf - skew

    def _client(self) -> Any:
        """One ConfidentialClientApplication, made on first use; a failed setup is retried."""
        with self._lock:
            if self._app is None:
                try:
                    self._app = msal.ConfidentialClientApplication(
                        self._client_id,
                        client_credential=self._secret,
                        authority=f"{self._host}/{self._tenant}",
                        instance_discovery=False,  # our own configured host, trusted as given
                        http_client=self._http_client,
                        timeout=MSAL_TIMEOUT,
                        token_cache=_NothingKept(),
                    )
                except (ValueError, requests.RequestException) as error:
                    log.warning("Microsoft sign-in: discovery failed (%s)", type(error).__name__)
                    raise SignInUnavailable(
                        "Sign-in with Microsoft is not available just now. "
                        "Try again in a few minutes, or sign in with your PeerLine password."
                    ) from None
            return self._app


def _refusal(result: object) -> str:
    """Words for Entra's error code; its description is never shown (it may hold data)."""
    code = result.get("error") if isinstance(result, dict) else None
    if isinstance(code, str) and code in REASONS:
        log.info("Microsoft sign-in refused: %s", code)
        return REASONS[code]
    log.info("Microsoft sign-in refused with an unlisted error")
    return FALLBACK


def _email(claims: Mapping[str, Any]) -> str:
    """The sign-in name when it is an address (it is, for a tenant's own people), else `email`."""
    username = _text(claims, "preferred_username")
    return username if "@" in username else _text(claims, "email")


def _text(claims: Mapping[str, Any], key: str) -> str:
    value = claims.get(key)
    return value.strip() if isinstance(value, str) else ""


def entra_sign_in(settings: TeamsSettings, now: Callable[[], datetime]) -> EntraSignIn | None:
    """The sign-in method when TEAMS_CONSOLE_CLIENT_ID/SECRET are set, else None (off)."""
    if not settings.console_sign_in:
        return None
    assert settings.console_client_id and settings.console_client_secret and settings.tenant_id
    return EntraSignIn(
        client_id=settings.console_client_id,
        client_secret=settings.console_client_secret.get_secret_value(),
        tenant_id=settings.tenant_id,
        now=now,
        authority_host=settings.authority_host,
    )
