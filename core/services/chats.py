"""Talk-now chats relayed between two people who never learn who the other is.

A chat is a request in `in_chat`: the core knows the requester by their encrypted identity
and the supporter by their contacts, so a line written in Slack or in Teams is routed here
whatever app the other side is in. Each app's plugin cleans what its users write, finds the
chat with `running_for`, and passes the words to `say`; everything both sides read goes
through the durable outbox, and a chat's lines arrive in order. Lines are forgotten once sent.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import select

from core import events
from core.errors import Conflict
from core.models import Program, RequesterIdentity, SupporterContact, SupportRequest
from core.notify.kinds import conversation_order
from core.notify.outbox import stage
from core.ports import FORGET_AFTER_SENDING, Notification
from core.schemas.programs import NOT_A_CRISIS_SERVICE
from core.services import recipients, requests
from core.services.access import Ctx, require
from core.services.programs import crisis_resources_for

if TYPE_CHECKING:
    from core.runtime import Runtime

Side = Literal["requester", "supporter"]
SIDES: tuple[Side, Side] = ("requester", "supporter")
KINDS = frozenset({"relay_started", "relay_line", "relay_ended"})
PIECE_BUDGET = 2800  # characters per message once escaped: a Slack section holds 3,000
LINE_NOTICE = (
    "PeerLine is not a crisis service. If you are in danger, call your local emergency number; "
    "the crisis lines are in the message that started this chat."
)


@dataclass(frozen=True)
class Chat:
    """A running chat as either side's app needs it: aliases only."""

    request_id: uuid.UUID
    program_id: uuid.UUID
    supporter_id: uuid.UUID
    requester_alias: str
    supporter_alias: str

    def alias(self, side: Side) -> str:
        return self.requester_alias if side == "requester" else self.supporter_alias


def other(side: Side) -> Side:
    return "supporter" if side == "requester" else "requester"


def start_on_acceptance(runtime: Runtime) -> Callable[[events.OfferAccepted], None]:
    """However a talk-now offer was accepted (Slack, Teams, the API), the chat starts at once."""

    def accepted(event: events.OfferAccepted) -> None:
        ctx = runtime.system_ctx()
        with ctx.session:
            start(ctx, event.request_id, relaying(runtime))

    return accepted


def start(ctx: Ctx, request_id: uuid.UUID, platforms: Collection[str]) -> Chat | None:
    """A chat for a matched talk-now request, when both sides are in apps in `platforms`.

    `platforms` are the chat apps this deployment relays through. A requester who asked on
    the web or by e-mail, or a supporter reached only by e-mail, is met another way (the
    "matched" message says who). Returns None when no chat starts.
    """
    request = requests.get_request(ctx, request_id)
    require(ctx.principal, request.program_id, "service")
    platform = ctx.session.scalar(
        select(RequesterIdentity.platform).where(RequesterIdentity.request_id == request_id)
    )
    if request.urgency != "now" or request.status != "matched" or platform not in platforms:
        return None
    assert request.supporter_id is not None
    reachable = ctx.session.scalar(
        select(SupporterContact.id)
        .where(
            SupporterContact.supporter_id == request.supporter_id,
            SupporterContact.platform.in_(platforms),
        )
        .limit(1)
    )
    if reachable is None:
        return None
    chat = _chat(ctx, request)
    started = [_note(ctx, chat, side, "relay_started", side, {}) for side in SIDES]
    stage(ctx.session, started, ctx.now)
    try:
        requests.start_chat(ctx, request_id)  # commits the chat and its first messages together
    except Conflict:  # withdrawn between the acceptance and now
        ctx.session.rollback()
        return None
    return chat


def running_for(ctx: Ctx, platform: str, address: str) -> list[tuple[Chat, Side]]:
    """The chats this app user is in, on either side, within the caller's program."""
    if ctx.cipher is None or ctx.principal.program_id is None:
        raise RuntimeError("a chat look-up needs a program's service context with a cipher")
    require(ctx.principal, ctx.principal.program_id, "service")
    mine = SupportRequest.program_id == ctx.principal.program_id
    running = SupportRequest.status == "in_chat"
    asked = ctx.session.scalars(
        select(SupportRequest)
        .join(RequesterIdentity)
        .where(
            mine,
            running,
            RequesterIdentity.lookup_hash == ctx.cipher.lookup_hash(platform, address),
        )
    )
    supporting = ctx.session.scalars(
        select(SupportRequest)
        .join(SupporterContact, SupporterContact.supporter_id == SupportRequest.supporter_id)
        .where(
            mine,
            running,
            SupporterContact.platform == platform,
            SupporterContact.address == address,
        )
    )
    found: list[tuple[Chat, Side]] = [(_chat(ctx, r), "requester") for r in asked]
    found += [(_chat(ctx, r), "supporter") for r in supporting]
    return sorted(found, key=lambda pair: str(pair[0].request_id))


def chat_of(ctx: Ctx, request_id: uuid.UUID) -> Chat | None:
    """The running chat of this request, or None once it has ended (or never ran)."""
    request = requests.get_request(ctx, request_id)
    require(ctx.principal, request.program_id, "service")
    return _chat(ctx, request) if request.status == "in_chat" else None


def say(ctx: Ctx, chat: Chat, side: Side, text: str, key: str) -> bool:
    """Pass a cleaned line to the other side under the sender's alias; False once it ended.

    `key` is the app's own id for the message, so a retried delivery of it is passed on once.
    """
    if chat_of(ctx, chat.request_id) is None:
        return False
    lines = [
        _note(
            ctx,
            chat,
            other(side),
            "relay_line",
            f"{side}:{key}:{n}",
            {"from_alias": chat.alias(side), "text": piece, FORGET_AFTER_SENDING: True},
        )
        for n, piece in enumerate(pieces(text))
    ]
    stage(ctx.session, lines, ctx.now)
    ctx.session.commit()
    return True


def end(ctx: Ctx, request_id: uuid.UUID, by: Side) -> bool:
    """Someone pressed End chat: both told who ended it, and the session is completed."""
    request = requests.get_request(ctx, request_id)
    require(ctx.principal, request.program_id, "service")
    if request.status != "in_chat":
        return False
    stage_ended(ctx, request, by)
    try:
        requests.close_session(ctx, request_id, "completed")  # commits all of it
    except Conflict:  # closed meanwhile (a cancel, the API): it has ended all the same
        ctx.session.rollback()
        return False
    return True


def stage_ended(ctx: Ctx, request: SupportRequest, by: Side | None = None) -> None:
    """Both sides learn the chat ended; staged with whatever closes it, and only once."""
    chat = _chat(ctx, request)
    data: dict[Side, dict[str, Any]] = {
        side: {"other_alias": chat.alias(other(side)), "by": by} for side in SIDES
    }
    stage(
        ctx.session,
        [_note(ctx, chat, side, "relay_ended", side, data[side]) for side in SIDES],
        ctx.now,
    )


def pieces(text: str, budget: int = PIECE_BUDGET) -> list[str]:
    """A long message in parts that each fit the smallest app's message, split at spaces."""
    parts: list[str] = []
    rest = text
    while escaped_length(rest) > budget:
        cut = _fit(rest, budget)
        space = rest.rfind(" ", 0, cut)
        cut = space if space > cut // 2 else cut
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    return [*parts, rest] if rest else parts


def escaped_length(text: str) -> int:
    """How long the text is once &, < and > are escaped (as Slack and HTML both need)."""
    return len(text) + 4 * text.count("&") + 3 * (text.count("<") + text.count(">"))


def _fit(text: str, budget: int) -> int:
    size = 0
    for index, char in enumerate(text):
        size += escaped_length(char)
        if size > budget:
            return max(index, 1)
    return len(text)


def _chat(ctx: Ctx, request: SupportRequest) -> Chat:
    shown = requests.view(ctx, request)
    assert request.supporter_id is not None and shown.supporter is not None
    return Chat(
        request_id=request.id,
        program_id=request.program_id,
        supporter_id=request.supporter_id,
        requester_alias=shown.alias,
        supporter_alias=shown.supporter.alias,
    )


def _note(
    ctx: Ctx, chat: Chat, side: Side, kind: str, key: str, extra: dict[str, Any]
) -> Notification:
    """One message to one side; a requester's start and end carry the crisis resources."""
    program = ctx.session.get(Program, chat.program_id)
    assert program is not None
    data: dict[str, Any] = {
        "program": {"name": program.name, "slug": program.slug},
        "locale": program.locale,
        "time_zone": program.time_zone,
        "requester_alias": chat.requester_alias,
        "supporter_alias": chat.supporter_alias,
    }
    if side == "requester":
        full = kind != "relay_line"
        resources = crisis_resources_for(program, None) if full else []
        data["not_a_crisis"] = NOT_A_CRISIS_SERVICE if full else LINE_NOTICE
        data["crisis_resources"] = [r.model_dump(mode="json") for r in resources]
    return Notification(
        dedupe_key=f"{kind}:{chat.request_id}:{key}",
        program_id=chat.program_id,
        audience=side,
        kind=kind,
        request_id=chat.request_id,
        supporter_id=chat.supporter_id,
        order_key=conversation_order(chat.request_id, side),  # a chat's messages in order
        data=data | extra,
    )


def relaying(runtime: Runtime) -> set[str]:
    """The apps chats are relayed in: every chat channel this deployment has (not e-mail)."""
    return set(runtime.channels) - {"email"}


def supporter_address(ctx: Ctx, chat: Chat, platform: str) -> str | None:
    """The supporter's own address in an app, for a message the requester chose to send them."""
    require(ctx.principal, chat.program_id, "service")
    return recipients.supporter_address(ctx.session, chat.supporter_id, platform)
