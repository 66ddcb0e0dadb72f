"""The Slack plugin's hook: the `slack` commands always; bolt for one workspace or OAuth."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from slack_bolt import App
from slack_sdk import WebClient

from core.plugins import PluginHost
from integrations.slack import console_panel, feedback, oauth, offers, relay, requester
from integrations.slack.app import blueprint, make_bolt_app
from integrations.slack.channel import SDK_LOG, SlackChannel
from integrations.slack.ledger import DatabaseEventLedger
from integrations.slack.manifest import slack_group
from integrations.slack.replay import ReplayGuard
from integrations.slack.settings import SlackSettings, load_slack_settings

if TYPE_CHECKING:
    from core.runtime import Runtime

EXTENSION = "peerline_slack"
DELIVERY_TIMEOUT_SECONDS = 10
log = logging.getLogger(__name__)


def init_app(host: PluginHost) -> None:
    """A bad SLACK_* raises ConfigError here, so start-up fails naming the variable."""
    host.add_command(slack_group)
    settings = load_slack_settings()
    console_panel.register(host, settings)  # the console's Integrations page
    ledger = DatabaseEventLedger(host.runtime)  # events run once, and signed requests too
    if settings.single_workspace:
        bolt_app = make_bolt_app(settings, host.runtime, ledger=ledger)
        channel = SlackChannel(host.runtime, client_factory(settings))
    elif settings.oauth:
        bolt_app, channel = _oauth_mode(settings, host.runtime, ledger)
    else:
        if settings.configured:
            log.warning(
                "Slack is off: it needs SLACK_SIGNING_SECRET with SLACK_BOT_TOKEN (one "
                "workspace) or with SLACK_CLIENT_ID and SLACK_CLIENT_SECRET (OAuth installs)"
            )
        else:
            log.debug("Slack is off: no SLACK_* settings")
        return
    assert settings.signing_secret is not None
    guard = ReplayGuard(settings.signing_secret.get_secret_value(), ledger)
    _register(host, settings, bolt_app, channel, guard)


def _oauth_mode(
    settings: SlackSettings, runtime: Runtime, ledger: DatabaseEventLedger
) -> tuple[App, SlackChannel]:
    """Workspaces install the app themselves; their tokens live in our database."""
    stores = oauth.make_stores(runtime, settings)
    bolt_app = make_bolt_app(
        settings,
        runtime,
        ledger=ledger,
        oauth=oauth.make_oauth_settings(runtime, settings, stores),
    )
    oauth.register_clean_up(bolt_app, runtime, stores)
    return bolt_app, SlackChannel(
        runtime, workspaces=oauth.InstalledBots(runtime, settings, stores)
    )


def _register(
    host: PluginHost,
    settings: SlackSettings,
    bolt_app: App,
    channel: SlackChannel,
    guard: ReplayGuard,
) -> None:
    requester.register(bolt_app, host.runtime, settings)
    offers.register(bolt_app, host.runtime, settings)
    relay.register(bolt_app, host.runtime, settings)
    feedback.register(bolt_app, host.runtime, settings)
    host.add_blueprint(blueprint(bolt_app, guard))
    host.add_channel(channel)
    host.app.extensions[EXTENSION] = bolt_app


def client_factory(settings: SlackSettings) -> Callable[[], WebClient]:
    """Clients for deliveries: no retries of their own (the outbox retries), quiet logs."""
    assert settings.bot_token is not None
    token = settings.bot_token.get_secret_value()

    def make() -> WebClient:
        return WebClient(
            token=token,
            base_url=settings.api_url,
            timeout=DELIVERY_TIMEOUT_SECONDS,
            retry_handlers=[],
            logger=SDK_LOG,
        )

    return make
