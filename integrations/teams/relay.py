"""The Teams side of relayed chats: 1:1 lines in, the chat card's reply box and End chat.

The core routes chats (`core.services.chats`), so the other side may be in Teams or in
Slack. A line written in the chat with the bot goes to the person's one running chat; one
person in several chats (a supporter) replies with the box on each chat's card instead.
The card arrives through the durable outbox with the chat's first message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.services import chats
from core.services.access import Ctx
from core.services.chats import Chat, Side
from integrations.teams import cards
from integrations.teams import relay_text as say

if TYPE_CHECKING:
    pass

Answer = str | None  # what to tell the writer in their chat, if anything


def on_message(ctx: Ctx, aad_id: str, activity: dict[str, Any]) -> tuple[bool, Answer]:
    """(whether the line belonged to a chat, what to tell the writer)."""
    with ctx.session:
        found = chats.running_for(ctx, "teams", aad_id)
        ctx.session.rollback()
        if not found:
            return False, None
        if len(found) > 1:
            return True, say.PICK_A_CHAT
        chat, side = found[0]
        files = say.has_files(activity)
        text = say.clean(str(activity.get("text") or ""), with_files=files)
        if not text:
            return True, None
        key = str(activity.get("id") or "")[:120]
        if not chats.say(ctx, chat, side, text, key):
            return True, say.NOT_RUNNING
    return True, say.FILES_KEPT if files else None


def reply(ctx: Ctx, aad_id: str, data: dict[str, Any], key: str) -> cards.Card:
    """The Send button on a chat's card: the box's words to that chat, and the card again."""
    with ctx.session:
        mine = _mine(ctx, aad_id, data)
        if mine is None:
            return cards.said(say.NOT_RUNNING)
        chat, side = mine
        text = say.clean(str(data.get("reply") or ""))
        other = chat.alias(chats.other(side))
        if not text:
            return cards.chat_card(str(chat.request_id), other, "Write something to send.")
        if not chats.say(ctx, chat, side, text, key[:120]):
            return cards.said(say.NOT_RUNNING)
    return cards.chat_card(str(chat.request_id), other, say.SENT)


def end(ctx: Ctx, aad_id: str, data: dict[str, Any]) -> cards.Card:
    """End chat: both sides told, the session completed; the card says so."""
    with ctx.session:
        mine = _mine(ctx, aad_id, data)
        if mine is None or not chats.end(ctx, mine[0].request_id, mine[1]):
            return cards.said(say.NOT_RUNNING)
    chat, side = mine
    return cards.said(
        f"The chat has ended. You ended the chat with {chat.alias(chats.other(side))}."
    )


def _mine(ctx: Ctx, aad_id: str, data: dict[str, Any]) -> tuple[Chat, Side] | None:
    """The running chat named on the card, if the person pressing is in it."""
    wanted = str(data.get("request_id") or "")
    for chat, side in chats.running_for(ctx, "teams", aad_id):
        if str(chat.request_id) == wanted:
            return chat, side
    return None
