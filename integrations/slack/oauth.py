"""Many workspaces through Slack's OAuth install, kept in our own database.

slack_sdk's SQLAlchemy stores hold installations and one-time OAuth states in the plugin's
tables (its migrations create them, so the stores' create_tables is never called). A
finished install links the workspace to a program; app_uninstalled and tokens_revoked
remove what Slack no longer lets us use. Deliveries take the bot token of the workspace
linked to the notification's program, refreshing a rotating token before it expires.
"""

from __future__ import annotations

import html
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from slack_bolt import App, BoltContext, BoltResponse
from slack_bolt.authorization.authorize import InstallationStoreAuthorize
from slack_bolt.listener.builtins import TokenRevocationListeners
from slack_bolt.oauth.callback_options import CallbackOptions, FailureArgs, SuccessArgs
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk import WebClient
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from slack_sdk.oauth.token_rotation import TokenRotator
from sqlalchemy import delete, select

from core.errors import NotFound
from integrations.slack import workspaces
from integrations.slack.channel import SDK_LOG
from integrations.slack.manifest import BOT_SCOPES
from integrations.slack.settings import SlackSettings
from integrations.slack.storage import BOTS, INSTALLATIONS, OAUTH_STATES, WORKSPACES

if TYPE_CHECKING:
    from core.runtime import Runtime

log = logging.getLogger(__name__)

INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
STATE_EXPIRATION_SECONDS = 600  # an admin finishes Slack's consent screen within minutes
# Refresh a rotating bot token this long before it expires (Slack's tokens live 12 hours):
# an outbox retry or a slow request must never hold a token that dies on the way.
TOKEN_REFRESH_MINUTES = 120
DELIVERY_TIMEOUT_SECONDS = 10
REQUEST_TIMEOUT_SECONDS = 3  # a refresh inside a request: Slack waits 3 s for our answer


@dataclass(frozen=True)
class Stores:
    """slack_sdk's stores on our engine and table names."""

    installations: SQLAlchemyInstallationStore
    states: SQLAlchemyOAuthStateStore


def make_stores(runtime: Runtime, settings: SlackSettings) -> Stores:
    """The stores on `runtime.engine`; the tables come from the plugin's migrations."""
    assert settings.client_id is not None
    installations = SQLAlchemyInstallationStore(
        client_id=settings.client_id,
        engine=runtime.engine,
        bots_table_name=BOTS.name,
        installations_table_name=INSTALLATIONS.name,
        logger=SDK_LOG,  # its debug lines name teams and users
    )
    states = SQLAlchemyOAuthStateStore(
        expiration_seconds=STATE_EXPIRATION_SECONDS,
        engine=runtime.engine,
        table_name=OAUTH_STATES.name,
        logger=SDK_LOG,
    )
    return Stores(installations, states)


def make_oauth_settings(runtime: Runtime, settings: SlackSettings, stores: Stores) -> OAuthSettings:
    """bolt's install flow with our stores, our scopes and a success page that links a program."""
    assert settings.client_id is not None and settings.client_secret is not None
    oauth_settings = OAuthSettings(
        client_id=settings.client_id,
        client_secret=settings.client_secret.get_secret_value(),
        scopes=list(BOT_SCOPES),
        user_scopes=[],
        installation_store=stores.installations,
        installation_store_bot_only=True,  # we act as the bot only; no user tokens
        state_store=stores.states,
        state_expiration_seconds=STATE_EXPIRATION_SECONDS,
        install_path=INSTALL_PATH,
        redirect_uri_path=REDIRECT_PATH,
        token_rotation_expiration_minutes=TOKEN_REFRESH_MINUTES,
        callback_options=CallbackOptions(success=_installed(runtime, settings), failure=_failed),
        logger=SDK_LOG,
    )
    # bolt authorizes each request with this; the default refreshes through slack.com
    oauth_settings.authorize = make_authorize(settings, stores)
    return oauth_settings


def make_authorize(settings: SlackSettings, stores: Stores) -> InstallationStoreAuthorize:
    """bolt's per-request authorization, refreshing rotating tokens through SLACK_API_URL.

    The one OAuthSettings builds refreshes through a default WebClient, which would ignore
    SLACK_API_URL (GovSlack, proxies, the tests' fake Slack).
    """
    assert settings.client_id is not None and settings.client_secret is not None
    return InstallationStoreAuthorize(
        logger=SDK_LOG,
        installation_store=stores.installations,
        client_id=settings.client_id,
        client_secret=settings.client_secret.get_secret_value(),
        token_rotation_expiration_minutes=TOKEN_REFRESH_MINUTES,
        bot_only=True,
        client=WebClient(
            base_url=settings.api_url,
            timeout=REQUEST_TIMEOUT_SECONDS,
            retry_handlers=[],
            logger=SDK_LOG,
        ),
    )


def _installed(runtime: Runtime, settings: SlackSettings) -> Callable[[SuccessArgs], BoltResponse]:
    """Link the new workspace where PeerLine can tell the program; else say how to."""

    def success(args: SuccessArgs) -> BoltResponse:
        installation = args.installation
        team_id = installation.team_id
        if team_id is None:  # an org-wide install: the manifest does not offer one
            return _page(200, "PeerLine was installed, but org-wide installs are not supported.")
        slug = workspaces.program_slug(runtime, settings, team_id)
        if slug is not None:
            try:
                workspaces.link(runtime, team_id, slug, installation.enterprise_id)
            except NotFound:
                slug = None
        if slug is None:
            log.warning("Slack app installed in a workspace that belongs to no program yet")
            return _page(
                200,
                "PeerLine is installed. Ask the PeerLine administrator to link this workspace "
                f"to a program: peerline slack link {team_id} PROGRAM",
            )
        log.info("Slack app installed in a workspace and linked to its program")
        return _page(200, f"PeerLine is installed for the program {slug}. People can use it now.")

    return success


def _failed(args: FailureArgs) -> BoltResponse:
    """bolt's own failure page (a link to try again); the log names only the reason code."""
    log.warning("Slack install failed (%s)", args.reason)
    return args.default.failure(args)


def _page(status: int, text: str) -> BoltResponse:
    body = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        "<title>PeerLine for Slack</title></head>"
        f"<body><p>{html.escape(text)}</p></body></html>"
    )
    return BoltResponse(
        status=status, body=body, headers={"Content-Type": "text/html; charset=utf-8"}
    )


def register_clean_up(bolt_app: App, runtime: Runtime, stores: Stores) -> None:
    """Forget what a workspace took back: its tokens, and on uninstall its program link too."""
    revocations = TokenRevocationListeners(stores.installations)

    def uninstalled(context: BoltContext) -> None:
        revocations.handle_app_uninstalled_events(context)
        if context.team_id:
            unlink(runtime, context.team_id)
        log.warning("Slack app uninstalled from a workspace: its tokens and link are removed")

    def revoked(event: dict[str, Any], context: BoltContext) -> None:
        revocations.handle_tokens_revoked_events(event, context)
        log.warning("Slack tokens revoked in a workspace: they are removed")

    bolt_app.event("app_uninstalled")(uninstalled)
    bolt_app.event("tokens_revoked")(revoked)


def unlink(runtime: Runtime, team_id: str) -> None:
    """An uninstalled workspace belongs to no program, so nothing is sent there any more."""
    with runtime.engine.begin() as connection:
        connection.execute(delete(WORKSPACES).where(WORKSPACES.c.team_id == team_id))


class InstalledBots:
    """Delivery clients per program: the bot of the workspace linked to the program."""

    def __init__(self, runtime: Runtime, settings: SlackSettings, stores: Stores) -> None:
        assert settings.client_id is not None and settings.client_secret is not None
        self._runtime, self._settings, self._store = runtime, settings, stores.installations
        self._rotator = TokenRotator(
            client_id=settings.client_id,
            client_secret=settings.client_secret.get_secret_value(),
            client=self._client(None),
        )

    def reaches(self, program_id: uuid.UUID) -> bool:
        """Whether a workspace is linked to the program (installed, not uninstalled)."""
        return self._team_of(program_id) is not None

    def client_for(self, program_id: uuid.UUID) -> WebClient | None:
        """A client with the linked bot's token, refreshed and saved first when expiring.

        None when the workspace has no bot (its tokens were revoked). A failed refresh
        raises SlackTokenRotationError; a network fault raises as the client would.
        """
        team_id = self._team_of(program_id)
        bot = self._store.find_bot(enterprise_id=None, team_id=team_id) if team_id else None
        if bot is None:
            return None
        if bot.bot_refresh_token is not None:
            refreshed = self._rotator.perform_bot_token_rotation(
                bot=bot, minutes_before_expiration=TOKEN_REFRESH_MINUTES
            )
            if refreshed is not None:
                self._store.save_bot(refreshed)
                bot = refreshed
        return self._client(bot.bot_token)

    def _team_of(self, program_id: uuid.UUID) -> str | None:
        with self._runtime.engine.connect() as connection:
            team_id = connection.scalar(
                select(WORKSPACES.c.team_id).where(WORKSPACES.c.program_id == program_id).limit(1)
            )
        return str(team_id) if team_id is not None else None

    def _client(self, token: str | None) -> WebClient:
        """No retries of its own (the outbox retries), quiet logs, SLACK_API_URL."""
        return WebClient(
            token=token,
            base_url=self._settings.api_url,
            timeout=DELIVERY_TIMEOUT_SECONDS,
            retry_handlers=[],
            logger=SDK_LOG,
        )
