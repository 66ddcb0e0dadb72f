"""The Slack plugin's hook: the `slack` commands always; bolt when one workspace is configured."""

from __future__ import annotations

import logging
from collections.abc import Callable

from slack_sdk import WebClient

from core.plugins import PluginHost
from integrations.slack import feedback, offers, relay, requester
from integrations.slack.app import blueprint, make_bolt_app
from integrations.slack.channel import SDK_LOG, SlackChannel
from integrations.slack.ledger import DatabaseEventLedger
from integrations.slack.manifest import slack_group
from integrations.slack.settings import SlackSettings, load_slack_settings

EXTENSION = "peerline_slack"
DELIVERY_TIMEOUT_SECONDS = 10
log = logging.getLogger(__name__)


def init_app(host: PluginHost) -> None:
    """A bad SLACK_* raises ConfigError here, so start-up fails naming the variable."""
    host.add_command(slack_group)
    settings = load_slack_settings()
    if not settings.single_workspace:
        if settings.configured:
            log.warning(
                "Slack is off: single-workspace mode needs SLACK_BOT_TOKEN and "
                "SLACK_SIGNING_SECRET (OAuth installs are not available yet)"
            )
        else:
            log.debug("Slack is off: no SLACK_* settings")
        return
    bolt_app = make_bolt_app(settings, host.runtime, ledger=DatabaseEventLedger(host.runtime))
    requester.register(bolt_app, host.runtime, settings)
    offers.register(bolt_app, host.runtime, settings)
    relay.register(bolt_app, host.runtime, settings)
    feedback.register(bolt_app, host.runtime, settings)
    host.add_blueprint(blueprint(bolt_app))
    host.add_channel(SlackChannel(host.runtime, client_factory(settings)))
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
