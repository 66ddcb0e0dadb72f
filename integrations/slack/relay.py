"""The anonymous relay for talk-now chats: each side writes in its DM with the bot.

While a chat runs, slack_relays knows the supporter's Slack user and, for the requester, only
the core's keyed hash of theirs (the identity itself stays encrypted in the core). Ending a
chat blanks that hash, so no mapping outlives it. Lines, starts and ends go through the
durable outbox. The cards with buttons, and a requester's reveal, are posted in the request
that asked for them: the outbox's Slack renderer carries no buttons or mentions, and a
revealed user id must never rest in the outbox's stored snapshots.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import suppress
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from slack_bolt import Ack, App
from slack_sdk import WebClient
from sqlalchemy import Row, or_, select, update

from core import events
from core.errors import Conflict
from core.ports import FORGET_AFTER_SENDING, Notification
from core.services import identities, outbound, programs, requests
from core.services.access import Ctx, Principal
from integrations.slack import relay_text as say
from integrations.slack.relay_text import Side
from integrations.slack.settings import SlackSettings
from integrations.slack.storage import RELAYS
from integrations.slack.workspaces import service_ctx

if TYPE_CHECKING:
    from core.runtime import Runtime

SIDES: tuple[Side, Side] = ("requester", "supporter")
PASSED_ON = frozenset({None, "file_share", "thread_broadcast"})  # not edits, deletes, bots…
Listener = Callable[..., None]
Item = tuple[Side, str, str]  # to whom, what, the dedupe key's end
Route = tuple["Relay", Side] | Literal["ambiguous", "ended"] | None


@dataclass(frozen=True)
class Relay:
    """One chat as slack_relays holds it: the requester only as a keyed hash, both aliases."""

    request_id: uuid.UUID
    program_id: uuid.UUID
    requester_key: str
    supporter_user: str
    requester_alias: str
    supporter_alias: str
    started_at: datetime
    requester_thread: str | None = None
    supporter_thread: str | None = None
    ended_at: datetime | None = None
    revealed: bool = False

    def alias(self, side: Side) -> str:
        return self.requester_alias if side == "requester" else self.supporter_alias

    def thread(self, side: Side) -> str | None:
        return self.requester_thread if side == "requester" else self.supporter_thread


def register(bolt_app: App, runtime: Runtime, settings: SlackSettings) -> None:
    """DM lines, the End chat and reveal buttons, and an end wherever the core closes the chat."""
    bolt_app.event("message")(_on_message(runtime))
    bolt_app.action(say.END)(_on_end(runtime))
    bolt_app.action(say.REVEAL)(_on_reveal(runtime))

    def closed(event: events.SessionClosed) -> None:  # the API, a cancel, the day-old sweep
        finish(runtime, event.request_id)

    runtime.bus.subscribe(events.SessionClosed, closed)


def start(
    runtime: Runtime, slug: str, request_id: uuid.UUID, supporter_user: str, client: WebClient
) -> None:
    """After an acceptance in Slack: a relay if the requester asked from Slack, else nothing."""
    ctx = service_ctx(runtime, slug)
    with ctx.session:
        who = identities.identity_of(ctx, request_id)
        request = requests.get_request(ctx, request_id)
        shown = requests.view(ctx, request)
        if who is None or who[0] != "slack" or request.urgency != "now" or not shown.supporter:
            return
        relay = Relay(
            request_id=request_id,
            program_id=request.program_id,
            requester_key=runtime.cipher.lookup_hash("slack", who[1]),
            supporter_user=supporter_user,
            requester_alias=shown.alias,
            supporter_alias=shown.supporter.alias,
            started_at=ctx.now,
        )
        ctx.session.execute(RELAYS.insert().values(**asdict(relay)))
        starts: list[Item] = [(side, say.started(side, relay), side) for side in SIDES]
        outbound.queue(ctx, _notes(ctx, relay, "relay_started", starts, full=True))
        try:
            requests.start_chat(ctx, request_id)  # commits the relay and its messages with it
        except Conflict:  # withdrawn between the acceptance and now
            ctx.session.rollback()
            return
    _card(runtime, client, say.dm(client, who[1]), relay, "requester")
    _card(runtime, client, say.dm(client, supporter_user), relay, "supporter")


def _notes(
    ctx: Ctx, relay: Relay, kind: str, items: list[Item], *, full: bool
) -> list[Notification]:
    """Messages for the outbox; a requester's carries the crisis resources when `full`."""
    [program] = programs.list_programs(ctx)
    supporter_id = requests.get_request(ctx, relay.request_id).supporter_id
    base = {"program": {"name": program.name, "slug": program.slug}, "locale": program.locale}
    safety: dict[str, Any] = {"not_a_crisis": say.LINE_NOTICE, "crisis_resources": []}
    if full:
        intake = programs.intake(ctx, program.slug)
        resources = [r.model_dump(mode="json") for r in intake.crisis_resources]
        safety = {"not_a_crisis": intake.notice, "crisis_resources": resources}
    return [
        Notification(
            dedupe_key=f"{kind}:{relay.request_id}:{key}",
            program_id=relay.program_id,
            audience=side,
            kind=kind,
            request_id=relay.request_id,
            supporter_id=supporter_id,
            order_key=f"relay:{relay.request_id}:{side}",  # a chat's lines arrive in order
            data=base
            | (safety if side == "requester" else {})
            | {"text": text, FORGET_AFTER_SENDING: kind == "relay_line"},
        )
        for side, text, key in items
    ]


def _on_message(runtime: Runtime) -> Listener:
    def on_message(event: dict[str, Any], client: WebClient) -> None:
        user, channel = event.get("user"), str(event.get("channel") or "")
        if (
            event.get("channel_type") != "im"
            or event.get("bot_id")
            or event.get("subtype") not in PASSED_ON
            or not isinstance(user, str)
        ):
            return
        found = _route(runtime, user, event.get("thread_ts"))
        if found is None:
            return  # not in a chat: nothing to pass on, nothing to say
        if isinstance(found, str):
            say.post(
                client, channel, say.PICK_A_THREAD if found == "ambiguous" else say.NOT_RUNNING
            )
            return
        relay, side = found
        if relay.thread(side) is None:  # the card did not reach them at the start
            _card(runtime, client, channel, relay, side)
        files = bool(event.get("files"))
        text = say.clean(str(event.get("text") or ""), with_files=files)
        key = str(event.get("client_msg_id") or event.get("ts"))
        if text and _forward(runtime, relay, side, text, key) and files:
            say.post(client, channel, say.FILES_KEPT)

    return on_message


def _route(runtime: Runtime, user: str, thread: object) -> Route:
    """The chat a DM line belongs to: its card's thread, else the user's one running chat."""
    key = runtime.cipher.lookup_hash("slack", user)
    mine = or_(RELAYS.c.supporter_user == user, RELAYS.c.requester_key == key)
    with runtime.engine.connect() as connection:
        rows = connection.execute(select(RELAYS).where(RELAYS.c.ended_at.is_(None), mine)).all()
        old = thread is not None and connection.scalar(
            select(RELAYS.c.request_id).where(
                RELAYS.c.ended_at.is_not(None),
                or_(RELAYS.c.requester_thread == thread, RELAYS.c.supporter_thread == thread),
            )
        )
    found = [(r, s) for r in map(_relay, rows) if (s := _side(runtime, r, user)) is not None]
    for relay, side in found:
        if thread is not None and relay.thread(side) == thread:
            return relay, side
    if old:  # a reply under the card of a chat that has ended goes to nobody else
        return "ended"
    if len(found) > 1:
        return "ambiguous"
    return found[0] if found else None


def _forward(runtime: Runtime, relay: Relay, side: Side, text: str, key: str) -> bool:
    """Queue the line for the other side, under the sender's alias; False if the chat closed."""
    ctx = _ctx(runtime, relay.program_id)
    with ctx.session:
        closed = requests.get_request(ctx, relay.request_id).status == "closed"
        if not closed:
            items: list[Item] = [
                (_other(side), say.line(relay.alias(side), piece), f"{side}:{key}:{n}")
                for n, piece in enumerate(say.pieces(text))
            ]
            outbound.queue(ctx, _notes(ctx, relay, "relay_line", items, full=False))
            ctx.session.commit()
    if closed:  # the core closed it and its event did not end the relay here
        finish(runtime, relay.request_id)
    return not closed


def finish(
    runtime: Runtime, request_id: uuid.UUID, by: Side | None = None, *, close: bool = False
) -> bool:
    """End a relay once: the requester's hash blanked, both told; `close` completes the request.

    Ending a chat that happened is a completed session, after which the core asks for feedback.
    """
    relay = _load(runtime, request_id)
    if relay is None:
        return False
    ctx = _ctx(runtime, relay.program_id)
    with ctx.session:
        ended = ctx.session.execute(
            update(RELAYS)
            .where(RELAYS.c.request_id == request_id, RELAYS.c.ended_at.is_(None))
            .values(ended_at=ctx.now, requester_key="")
        )
        if ended.rowcount != 1:  # type: ignore[attr-defined]
            return False
        ends: list[Item] = [
            (side, say.ended(side, by, relay.alias(_other(side))), side) for side in SIDES
        ]
        outbound.queue(ctx, _notes(ctx, relay, "relay_ended", ends, full=True))
        if close:
            with suppress(Conflict):  # closed meanwhile (a cancel, the API): it ends all the same
                requests.close_session(ctx, request_id, "completed")  # commits all of it
        ctx.session.commit()
    return True


def _on_end(runtime: Runtime) -> Listener:
    def end(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        relay = _clicked(runtime, body)
        side = _side(runtime, relay, body["user"]["id"]) if relay else None
        if relay is None or side is None or not finish(runtime, relay.request_id, side, close=True):
            say.update(client, body, say.NOT_RUNNING)
            return
        said = say.ended(side, side, say.escape(relay.alias(_other(side))))
        say.update(client, body, said)

    return end


def _on_reveal(runtime: Runtime) -> Listener:
    def reveal(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        user, relay, here = body["user"]["id"], _clicked(runtime, body), say.channel_of(body)
        if relay is None or relay.ended_at is not None:
            say.update(client, body, say.NOT_RUNNING)
        elif _side(runtime, relay, user) != "requester":
            say.post(client, here, say.REQUESTER_ONLY)
        elif not _mark_revealed(runtime, relay, True):
            say.post(client, here, say.ALREADY_TOLD)
        elif not say.post(
            client, say.dm(client, relay.supporter_user), say.revealed(relay.requester_alias, user)
        ):
            _mark_revealed(runtime, relay, False)
            say.post(client, here, say.NOT_TOLD)
        else:
            card = say.card("requester", str(relay.request_id), relay.supporter_alias)
            say.update(client, body, say.told(relay.supporter_alias), card)

    return reveal


def _mark_revealed(runtime: Runtime, relay: Relay, revealed: bool) -> bool:
    """Claim the reveal (once, while running), or give the claim back when Slack refused."""
    with runtime.engine.begin() as connection:
        done = connection.execute(
            update(RELAYS)
            .where(RELAYS.c.request_id == relay.request_id, RELAYS.c.ended_at.is_(None))
            .where(RELAYS.c.revealed.is_(not revealed))
            .values(revealed=revealed)
        )
    return done.rowcount == 1


def _card(runtime: Runtime, client: WebClient, channel: str, relay: Relay, side: Side) -> None:
    """Post a side's card and remember its thread."""
    rid, other = str(relay.request_id), relay.alias(_other(side))
    ts = say.post_card(client, channel, side, rid, other, can_reveal=not relay.revealed)
    if ts is not None:
        column = RELAYS.c.requester_thread if side == "requester" else RELAYS.c.supporter_thread
        with runtime.engine.begin() as connection:
            connection.execute(
                update(RELAYS).where(RELAYS.c.request_id == relay.request_id).values({column: ts})
            )


def _side(runtime: Runtime, relay: Relay, user: str) -> Side | None:
    if relay.supporter_user == user:
        return "supporter"
    key = relay.requester_key
    return "requester" if key and key == runtime.cipher.lookup_hash("slack", user) else None


def _other(side: Side) -> Side:
    return "supporter" if side == "requester" else "requester"


def _load(runtime: Runtime, request_id: uuid.UUID) -> Relay | None:
    with runtime.engine.connect() as connection:
        row = connection.execute(select(RELAYS).where(RELAYS.c.request_id == request_id)).first()
    return _relay(row) if row is not None else None


def _relay(row: Row[Any]) -> Relay:
    return Relay(**{f.name: row._mapping[f.name] for f in fields(Relay)})


def _clicked(runtime: Runtime, body: dict[str, Any]) -> Relay | None:
    try:
        return _load(runtime, uuid.UUID(body["actions"][0]["value"]))
    except (KeyError, IndexError, ValueError):
        return None


def _ctx(runtime: Runtime, program_id: uuid.UUID) -> Ctx:
    """A unit of work with the powers of the program's integration, for this chat's program."""
    principal = Principal(role="service", program_id=program_id)
    return Ctx(runtime.session_factory(), principal, runtime.clock.now(), runtime.cipher)
