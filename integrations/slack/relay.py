"""The Slack side of relayed chats: DM lines in, End chat and reveal buttons.

The core routes chats (`core.services.chats`), so the other side may be in Slack or in
Teams. Here a DM line is cleaned of everything Slack-specific that could say who someone
is and handed to the core; a reply in the thread under a chat's card goes to that chat.
The card itself, with its buttons, arrives through the durable outbox like every message.
A requester's reveal is posted in the request that asked for it: a revealed user id must
never rest in the outbox's stored snapshots.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from slack_bolt import Ack, App
from slack_sdk import WebClient
from sqlalchemy.dialects import postgresql, sqlite

from core.errors import NotFound
from core.services import chats
from core.services.access import Ctx
from core.services.chats import Chat, Side
from integrations.slack import cards
from integrations.slack import relay_text as say
from integrations.slack.settings import SlackSettings
from integrations.slack.storage import REVEALS
from integrations.slack.workspaces import program_slug, service_ctx

if TYPE_CHECKING:
    from core.runtime import Runtime

PASSED_ON = frozenset({None, "file_share", "thread_broadcast"})  # not edits, deletes, bots…
Listener = Callable[..., None]
Route = tuple[Chat, Side] | Literal["ambiguous", "ended"] | None


def register(bolt_app: App, runtime: Runtime, settings: SlackSettings) -> None:
    """DM lines, and the End chat and reveal buttons of a chat's card."""
    bolt_app.event("message")(_on_message(runtime, settings))
    bolt_app.action(say.END)(_on_end(runtime, settings))
    bolt_app.action(say.REVEAL)(_on_reveal(runtime, settings))


def _on_message(runtime: Runtime, settings: SlackSettings) -> Listener:
    def on_message(body: dict[str, Any], event: dict[str, Any], client: WebClient) -> None:
        user, channel = event.get("user"), str(event.get("channel") or "")
        if (
            event.get("channel_type") != "im"
            or event.get("bot_id")
            or event.get("subtype") not in PASSED_ON
            or not isinstance(user, str)
        ):
            return
        ctx = _ctx(runtime, settings, body)
        if ctx is None:
            return
        under = cards.chats_of_thread(runtime, str(event.get("thread_ts") or ""))
        with ctx.session:
            found = _route(ctx, user, under)
            ctx.session.rollback()  # no lock held while Slack is called (SQLite locks on read)
            if found is None:
                return  # not in a chat: nothing to pass on, nothing to say
            if isinstance(found, str):
                said = say.PICK_A_THREAD if found == "ambiguous" else say.NOT_RUNNING
                say.post(client, channel, said)
                return
            chat, side = found
            files = bool(event.get("files"))
            text = say.clean(str(event.get("text") or ""), with_files=files)
            key = str(event.get("client_msg_id") or event.get("ts"))
            if not text:
                return
            passed = chats.say(ctx, chat, side, text, key)
        if not passed:
            say.post(client, channel, say.NOT_RUNNING)
        elif files:
            say.post(client, channel, say.FILES_KEPT)

    return on_message


def _route(ctx: Ctx, user: str, under: set[uuid.UUID]) -> Route:
    """The chat a DM line belongs to: the card it replies under, else the one running chat."""
    found = chats.running_for(ctx, "slack", user)
    for chat, side in found:
        if chat.request_id in under:
            return chat, side
    if under:  # a reply under the card of a chat that has ended
        return "ended"
    if len(found) > 1:
        return "ambiguous"
    return found[0] if found else None


def _on_end(runtime: Runtime, settings: SlackSettings) -> Listener:
    def end(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        ctx = _ctx(runtime, settings, body)
        if ctx is None:
            say.update(client, body, say.NOT_RUNNING)
            return
        with ctx.session:
            mine = _clicked(ctx, body)
            if mine is None or not chats.end(ctx, mine[0].request_id, mine[1]):
                say.update(client, body, say.NOT_RUNNING)
                return
        chat, side = mine
        other = say.escape(chat.alias(chats.other(side)))
        said = f"The chat has ended. You ended the chat with *{other}*."
        say.update(client, body, said)

    return end


def _on_reveal(runtime: Runtime, settings: SlackSettings) -> Listener:
    def reveal(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        user, here = body["user"]["id"], say.channel_of(body)
        ctx = _ctx(runtime, settings, body)
        mine, supporter = None, None
        if ctx is not None:
            with ctx.session:
                mine = _clicked(ctx, body)
                supporter = chats.supporter_address(ctx, mine[0], "slack") if mine else None
        if mine is None:
            say.update(client, body, say.NOT_RUNNING)
            return
        chat, side = mine
        if side != "requester":
            say.post(client, here, say.REQUESTER_ONLY)
        elif supporter is None:
            say.post(client, here, say.NOT_ON_SLACK)
        elif not _claim_reveal(runtime, chat.request_id):
            say.post(client, here, say.ALREADY_TOLD)
        elif not say.post(
            client, say.dm(client, supporter), say.revealed(chat.requester_alias, user)
        ):
            _give_back(runtime, chat.request_id)
            say.post(client, here, say.NOT_TOLD)
        else:
            buttons = say.chat_buttons(
                "requester", str(chat.request_id), chat.supporter_alias, can_reveal=False
            )
            say.update(client, body, say.told(chat.supporter_alias), buttons)

    return reveal


def _clicked(ctx: Ctx, body: dict[str, Any]) -> tuple[Chat, Side] | None:
    """The running chat on the clicked card, and the clicker's side in it (None if not theirs)."""
    try:
        request_id = uuid.UUID(body["actions"][0]["value"])
    except (KeyError, IndexError, ValueError):
        return None
    for chat, side in chats.running_for(ctx, "slack", body["user"]["id"]):
        if chat.request_id == request_id:
            return chat, side
    return None


def _claim_reveal(runtime: Runtime, request_id: uuid.UUID) -> bool:
    """Claim the reveal once per chat; False if it was claimed before."""
    engine = runtime.engine
    insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    with engine.begin() as connection:
        claimed = connection.scalar(
            insert(REVEALS)
            .values(request_id=request_id, revealed_at=runtime.clock.now())
            .on_conflict_do_nothing(index_elements=["request_id"])
            .returning(REVEALS.c.request_id)
        )
    return claimed is not None


def _give_back(runtime: Runtime, request_id: uuid.UUID) -> None:
    """Slack refused the message: the requester may try again."""
    with runtime.engine.begin() as connection:
        connection.execute(REVEALS.delete().where(REVEALS.c.request_id == request_id))


def _ctx(runtime: Runtime, settings: SlackSettings, body: dict[str, Any]) -> Ctx | None:
    """A unit of work acting as the integration of the program this workspace belongs to."""
    team = body.get("team_id") or (body.get("team") or {}).get("id")
    slug = program_slug(runtime, settings, team)
    if slug is None:
        return None
    try:
        return service_ctx(runtime, slug)
    except NotFound:
        return None
