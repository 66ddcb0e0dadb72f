"""What the anonymous relay passes on and says: cleaned lines, cards, notices, quick answers.

A line is cleaned of everything that could say who someone is (mentions, user ids, links
into Slack, e-mail addresses, files) and turned back into plain text: the outbox's Slack
renderer escapes it, so nothing left can become a mention or a link. Ordinary web links are
kept as plain URLs: they are how people share a resource, and Slack shows them as text.
Cards and answers to a click go out at once, in the request that asked for them.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Literal
from urllib.parse import urlsplit

from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError

log = logging.getLogger(__name__)
Side = Literal["requester", "supporter"]
Block = dict[str, Any]


END, REVEAL = "relay_end", "relay_reveal"
SOMEONE = "@someone"
A_CHANNEL = "#a-channel"
SLACK_LINK = "(a link into Slack was not passed on)"
EMAIL = "(an e-mail address was not passed on)"
OTHER_LINK = "(a link was not passed on)"
FILE_NOTE = "(a file was not passed on: files could identify people)"
SLACK_DOMAINS = (
    "slack.com",
    "slack-gov.com",
    "slack-files.com",
    "slack-edge.com",
    "slack-redir.net",
)

NOT_RUNNING = "This chat is no longer running."
FILES_KEPT = "Files are not passed on, because they could identify people. Your words were."
PICK_A_THREAD = (
    "You are in more than one chat right now, so this message was not passed on. Please reply "
    "in the thread under the card of the chat you mean (\u201cChat with \u2026\u201d)."
)
REQUESTER_ONLY = "Only the person who asked for the chat can share who they are."
ALREADY_TOLD = "You have already told them who you are."
NOT_TOLD = "Slack did not take the message, so they were not told. Please try again."
NOT_ON_SLACK = (
    "Your supporter is not on Slack, so your Slack profile cannot be shown to them. You can "
    "tell them in your own words if you wish."
)

_CONTROL = re.compile(r"<([^<>]*)>")
_BARE_ID = re.compile(r"\b[UW](?=[A-Z0-9]*\d)[A-Z0-9]{8,12}\b")
_BARE_SLACK = re.compile(
    r"(?i)\b(?:https?://)?[\w.-]*\b(?:slack(?:-gov|-files|-edge)?\.com|slack-redir\.net)\b\S*"
)


def clean(text: str, *, with_files: bool = False) -> str:
    """Slack's message markup made plain, without anything that points at a person."""
    plain = _CONTROL.sub(_replace, text)
    plain = _BARE_SLACK.sub(SLACK_LINK, plain)
    plain = _BARE_ID.sub(SOMEONE, plain)
    plain = plain.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").strip()
    if with_files:
        plain = f"{plain}\n\n{FILE_NOTE}" if plain else FILE_NOTE
    return plain


def _replace(match: re.Match[str]) -> str:
    target, _, label = match.group(1).partition("|")
    if target.startswith(("@U", "@W", "@B")):
        return SOMEONE
    if target.startswith("#"):
        return A_CHANNEL
    if target.startswith("!"):  # here, channel, everyone, subteams; a date keeps its words
        return label if target.startswith("!date^") else ""
    scheme = target.split(":", 1)[0].lower()
    if scheme in ("http", "https"):
        return SLACK_LINK if _into_slack(target) else _web_link(target, label)
    if scheme == "mailto":
        return EMAIL
    if scheme == "tel":  # e.g. a crisis line's number: its digits are the point
        return label or target[4:]
    return OTHER_LINK  # slack://user?id=… and other app links


def _into_slack(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    return any(host == d or host.endswith("." + d) for d in SLACK_DOMAINS)


def _web_link(url: str, label: str) -> str:
    shown = label.strip()
    if not shown or shown in (url, url.split("://", 1)[-1]):
        return url
    return f"{shown} ({url})"


def chat_buttons(
    side: Side, request_id: str, other_alias: str, *, can_reveal: bool = True
) -> list[Block]:
    """A chat card's buttons: End chat for both, Tell them who I am for the requester."""
    buttons = [_button(END, "End chat", request_id, _confirm_end(other_alias))]
    if side == "requester" and can_reveal:
        buttons.append(_button(REVEAL, "Tell them who I am", request_id, _confirm_reveal()))
    blocks: list[Block] = [{"type": "actions", "block_id": "relay", "elements": buttons}]
    if side == "supporter":
        hint = "In more than one chat at once? Reply in this card's thread to write to this one."
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": hint}]})
    return blocks


def revealed(requester_alias: str, user_id: str) -> str:
    """The one message that shows a requester's Slack user: theirs to send, to their supporter."""
    return f"*{escape(requester_alias)}* chose to tell you who they are: <@{user_id}>"


def told(supporter_alias: str) -> str:
    return f"You told *{escape(supporter_alias)}* who you are."


def _button(action_id: str, label: str, value: str, confirm: Block) -> Block:
    return {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": label},
        "value": value,
        "confirm": confirm,
    }


def _confirm_end(other_alias: str) -> Block:
    return _dialog("End this chat?", f"{other_alias} is told that the chat has ended.", "End chat")


def _confirm_reveal() -> Block:
    said = "Your supporter will see your Slack name and profile. This cannot be undone."
    return _dialog("Tell them who you are?", said, "Tell them")


def _dialog(title: str, text: str, yes: str) -> Block:
    return {
        "title": {"type": "plain_text", "text": title[:100]},
        "text": {"type": "plain_text", "text": text[:300]},
        "confirm": {"type": "plain_text", "text": yes},
        "deny": {"type": "plain_text", "text": "Cancel"},
    }


def _section(mrkdwn: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn[:3000]}}


def escape(text: str) -> str:
    """Slack's three control characters, for words we post ourselves."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def dm(client: WebClient, user: str) -> str:
    """The bot's DM with a user; on failure the user id itself, which chat.postMessage accepts."""
    try:
        return str(client.conversations_open(users=user)["channel"]["id"])
    except (SlackClientError, OSError) as error:
        log.warning("could not open a DM for the relay (%s)", code(error))
        return user


def post(client: WebClient, channel: str, mrkdwn: str) -> bool:
    try:
        client.chat_postMessage(channel=channel, text=mrkdwn, blocks=[_section(mrkdwn)])
    except (SlackClientError, OSError) as error:
        log.warning("could not answer in a relay DM (%s)", code(error))
        return False
    return True


def update(
    client: WebClient, body: dict[str, Any], mrkdwn: str, blocks: list[dict[str, Any]] | None = None
) -> None:
    """Rewrite the clicked card, so its buttons say what happened."""
    ts = (body.get("container") or {}).get("message_ts")
    if not ts:
        return
    try:
        client.chat_update(
            channel=channel_of(body), ts=ts, text=mrkdwn, blocks=[_section(mrkdwn), *(blocks or [])]
        )
    except (SlackClientError, OSError) as error:
        log.warning("could not update a relay card (%s)", code(error))


def channel_of(body: dict[str, Any]) -> str:
    container = body.get("container") or {}
    return str(container.get("channel_id") or (body.get("channel") or {}).get("id") or "")


def code(error: Exception) -> str:
    response = getattr(error, "response", None)
    return str(response.get("error")) if response is not None else type(error).__name__
