"""The Slack app manifest, so an admin creates the app by pasting one document.

Schema: https://api.slack.com/reference/manifests (slackapi/manifest-schema, version 1).
"""

from __future__ import annotations

import importlib
import json
import re
from typing import Any
from urllib.parse import urlsplit

import click
from flask import current_app
from flask.cli import with_appcontext

from core.errors import NotFound
from core.runtime import runtime
from integrations.slack import workspaces
from integrations.slack.settings import LOOPBACK_HOSTS, slash_command

# Each scope is needed by something the plugin does; nothing broader (no admin, no e-mail).
BOT_SCOPES = (
    "commands",  # the slash command that opens the request form
    "chat:write",  # offers, answers, reminders and relayed chat lines in DMs with the bot
    "im:history",  # message.im events: replies to the bot and the anonymous relay
    "im:write",  # conversations.open: start the DM that carries an offer or a reminder
    "im:read",  # conversations.info: check which person a DM with the bot belongs to
    "users:read",  # users.info: a person's time zone and locale (slot times, crisis resources)
    "files:write",  # attach a booking's calendar invite (.ics) to the DM confirming it
)
BOT_EVENTS = (
    "app_home_opened",  # the Home tab: the notice, crisis resources, how to ask
    "message.im",  # DMs with the bot (needs im:history)
    "app_uninstalled",  # stop using a workspace the moment it removes the app
    "tokens_revoked",  # ... or revokes our token
)
TEAM_ID = re.compile(r"^T[A-Z0-9]{2,31}$")  # Slack's workspace ids: T, then upper case
MAX_NAME_LENGTH = 35  # Slack's limit for display_information.name
DESCRIPTION = "Ask a trained peer supporter for a confidential chat. Not a crisis service."


def build_manifest(
    public_url: str, command: str = "/peer", name: str = "PeerLine", *, token_rotation: bool = False
) -> dict[str, Any]:
    """The app's configuration; every Slack request goes to one URL under `public_url`."""
    base = public_base(public_url)
    if not 1 <= len(name) <= MAX_NAME_LENGTH:
        raise ValueError(f"the app name must be 1-{MAX_NAME_LENGTH} characters")
    events_url = f"{base}/slack/events"
    return {
        "_metadata": {"major_version": 1, "minor_version": 1},
        "display_information": {"name": name, "description": DESCRIPTION},
        "features": {
            "bot_user": {"display_name": name, "always_online": True},
            "app_home": {
                "home_tab_enabled": True,
                "messages_tab_enabled": True,
                "messages_tab_read_only_enabled": False,
            },
            "slash_commands": [
                {
                    "command": slash_command(command),
                    "url": events_url,
                    "description": "Ask for a confidential chat with a peer supporter",
                    "usage_hint": "(opens a private form; nobody else sees it)",
                    "should_escape": False,
                }
            ],
        },
        "oauth_config": {
            "redirect_urls": [f"{base}/slack/oauth_redirect"],
            "scopes": {"bot": list(BOT_SCOPES)},
        },
        "settings": {
            "event_subscriptions": {"request_url": events_url, "bot_events": list(BOT_EVENTS)},
            "interactivity": {"is_enabled": True, "request_url": events_url},
            "org_deploy_enabled": False,
            "socket_mode_enabled": False,
            "token_rotation_enabled": token_rotation,
        },
    }


def public_base(url: str) -> str:
    """Slack only calls https addresses; plain http is for a developer's own machine."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r} is not an absolute http(s) URL")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        raise ValueError(f"{url!r} must use https (http is allowed only for localhost)")
    if parts.query or parts.fragment:
        raise ValueError(f"{url!r} must not have a query or fragment")
    return url.strip().rstrip("/")


def _checked_command(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    try:
        return slash_command(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.group("slack")
def slack_group() -> None:
    """Slack app set-up."""


@slack_group.command("manifest")
@click.option("--url", help="Public https URL of PeerLine [default: PEERLINE_PUBLIC_URL]")
@click.option(
    "--command", default="/peer", show_default=True, callback=_checked_command, help="Slash command"
)
@click.option(
    "--format", "output", type=click.Choice(["json", "yaml"]), default="json", show_default=True
)
@click.option(
    "--token-rotation/--no-token-rotation",
    default=False,
    show_default=True,
    help=(
        "Bot tokens that expire every 12 hours; PeerLine refreshes them for OAuth installs. "
        "Leave it off with a fixed SLACK_BOT_TOKEN (Slack cannot turn it off again)"
    ),
)
@with_appcontext
def manifest_command(url: str | None, command: str, output: str, token_rotation: bool) -> None:
    """Print the app manifest to paste at https://api.slack.com/apps (Create New App)."""
    source = "--url"
    if url is None:
        url, source = runtime(current_app).settings.public_url, "PEERLINE_PUBLIC_URL"
    if url is None:
        raise click.UsageError("no public URL: pass --url https://… or set PEERLINE_PUBLIC_URL")
    try:
        manifest = build_manifest(url, command, token_rotation=token_rotation)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=source) from None
    click.echo(render(manifest, output))


@slack_group.command("link")
@click.argument("team_id")
@click.argument("program")
@with_appcontext
def link_command(team_id: str, program: str) -> None:
    """Link a Slack workspace (TEAM_ID, e.g. T0123ABCD) to a PeerLine PROGRAM (its slug).

    For installs PeerLine could not place itself: several workplace programs and no
    SLACK_PROGRAM. The install page shows the exact command.
    """
    if not TEAM_ID.match(team_id):
        raise click.BadParameter("a Slack team id looks like T0123ABCD", param_hint="TEAM_ID")
    try:
        workspaces.link(runtime(current_app), team_id, program)
    except NotFound:
        raise click.BadParameter(f"no program {program!r}", param_hint="PROGRAM") from None
    click.echo(f"Slack workspace {team_id} now belongs to the program {program}.")


def render(manifest: dict[str, Any], output: str) -> str:
    """JSON always works; YAML only when PyYAML is installed (it is not a dependency)."""
    if output == "json":
        return json.dumps(manifest, indent=2)
    try:
        yaml = importlib.import_module("yaml")
    except ImportError:
        raise click.UsageError(
            "--format yaml needs PyYAML (pip install pyyaml); --format json works without it"
        ) from None
    return str(yaml.safe_dump(manifest, sort_keys=False, allow_unicode=True)).rstrip("\n")
