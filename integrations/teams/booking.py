"""Booking a time from Teams: free times in the person's zone, book one, cancel one's own."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError

from core.errors import ChangeClosed, Conflict, NotFound, PeerLineError, SlotUnavailable
from core.notify.wording import mode_name
from core.schemas.programs import IntakeOut
from core.schemas.requests import RequestIn
from core.services import identities, programs, requests, slots
from core.services.access import Ctx, Principal
from integrations.teams import cards
from integrations.teams.actions import form_again, problem_of, service_ctx

if TYPE_CHECKING:
    from core.runtime import Runtime

MAX_TIMES = 25  # enough to choose from, small enough to read in a compact list
MAX_BOOKINGS_SHOWN = 10
SEARCH_STEP = timedelta(days=7)
CARRIED = ("topic", "mode", "language", "note")
NOT_LISTED = "That time is not one of those offered; choose one from the list."
TAKEN = "That time was just taken; choose another."
PASSED = "That time has passed; choose another."
NOT_YOURS = "That booking could not be found, so nothing was cancelled."
ALREADY_CLOSED = "That booking was already cancelled or is over."
CANCELLED = "Your booking is cancelled. Your supporter will be told."


def client_zone(activity: dict[str, Any]) -> str | None:
    """The zone the person's Teams client reports (clientInfo entity, else localTimezone)."""
    entities = activity.get("entities")
    for entity in entities if isinstance(entities, list) else []:
        if isinstance(entity, dict) and entity.get("type") == "clientInfo":
            zone = entity.get("timezone")
            if isinstance(zone, str) and zone:
                return zone
    zone = activity.get("localTimezone")
    return zone if isinstance(zone, str) and zone else None


def zone_or(name: str | None, fallback: str) -> ZoneInfo:
    """The person's zone when it is a real IANA name, else the program's."""
    try:
        return ZoneInfo(name[:64]) if name else ZoneInfo(fallback)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return ZoneInfo(fallback)


def _label(start: datetime, zone: ZoneInfo, alias: str) -> str:
    return f"{start.astimezone(zone):%a %-d %b, %H:%M} with {alias}"


def _chosen(slug: str, data: dict[str, Any], **more: Any) -> RequestIn:
    """The form's answers as a request to book (validated; raises ValidationError)."""
    fields = {k: data[k] for k in CARRIED if isinstance(data.get(k), str) and data[k]}
    body = {"program": slug, "urgency": "scheduled", "channel": "teams", **fields, **more}
    return RequestIn.model_validate_json(json.dumps(body))


def times(
    runtime: Runtime, slug: str, data: dict[str, Any], zone_name: str | None, trouble: str = ""
) -> cards.Card:
    """The free times for the form's answers, from `after` (a later page) or now."""
    ctx = service_ctx(runtime, slug)
    with ctx.session:
        intake = programs.intake(ctx, slug)
        try:
            chosen = _chosen(slug, data)
        except ValidationError as exc:
            return form_again(intake, problem_of(exc))
        for field, offered in (
            ("topic", intake.topics),
            ("mode", intake.modes),
            ("language", intake.languages),
        ):
            if getattr(chosen, field) not in offered:
                return form_again(intake, f"{field}: {getattr(chosen, field)!r} is not offered.")
        zone = zone_or(zone_name, intake.time_zone)
        found, later = _free(ctx, chosen, _after(data.get("after"), ctx.now))
    carried = {k: str(v) for k, v in chosen.model_dump(include=set(CARRIED)).items() if v}
    listed = [
        (f"{f.supporter.id}|{f.interval.start.isoformat()}", _label(f.interval.start, zone, alias))
        for f, alias in found
    ]
    return cards.slot_card(intake, carried, listed, str(zone), later=later, trouble=trouble)


def _after(value: Any, now: datetime) -> datetime:
    """Where a 'Later times' page starts; anything unreadable starts now."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return now
    return max(moment, now) if moment.tzinfo is not None else now


def _free(
    ctx: Ctx, chosen: RequestIn, start: datetime
) -> tuple[list[tuple[slots.FoundSlot, str]], str | None]:
    """The first MAX_TIMES free times (with the supporter's alias), a week at a time up to the
    program's horizon; and where the next page begins, if there is one."""
    program = programs.get_program(ctx, chosen.program)
    horizon = ctx.now + timedelta(days=program.horizon_days)
    found: list[slots.FoundSlot] = []
    while start < horizon and len(found) <= MAX_TIMES:
        end = min(start + SEARCH_STEP, horizon)
        wanted = slots.SlotFilter(
            start=start, end=end, topic=chosen.topic, language=chosen.language, mode=chosen.mode
        )
        found += slots.search(ctx, program, wanted)
        start = end
    later = found[MAX_TIMES].interval.start.isoformat() if len(found) > MAX_TIMES else None
    return [(f, f.supporter.alias) for f in found[:MAX_TIMES]], later


def book(
    runtime: Runtime, slug: str, aad_id: str, data: dict[str, Any], zone_name: str | None
) -> cards.Card:
    """Book the chosen time as this Teams user; any refusal shows the times again."""
    supporter_id, starts_at = _slot(data.get("slot"))
    if supporter_id is None or starts_at is None:
        return times(runtime, slug, data, zone_name, NOT_LISTED)
    if starts_at <= runtime.clock.now():
        return times(runtime, slug, data, zone_name, PASSED)
    requester = {"platform": "teams", "subject": aad_id}
    slot = {"supporter_id": str(supporter_id), "starts_at": starts_at.isoformat()}
    try:
        chosen = _chosen(slug, data, slot=slot, requester=requester)
    except ValidationError:
        return times(runtime, slug, data, zone_name)  # the form's own answers are wrong
    refused: PeerLineError | None = None
    ctx = service_ctx(runtime, slug)
    with ctx.session:  # a refusal leaves it (rolled back, nothing stored) before times are read
        intake = programs.intake(ctx, slug)
        try:
            request, _token = requests.create(ctx, chosen)
            shown = requests.view(ctx, request)
        except PeerLineError as error:
            refused = error
    if refused is not None:
        return _refused(runtime, slug, data, zone_name, intake, refused)
    zone = zone_or(zone_name, intake.time_zone)
    who = shown.supporter.alias if shown.supporter else "a supporter"
    text = (
        f"Booked: {_label(starts_at, zone, who)} ({zone}), "
        f"{mode_name(chosen.mode)}. You are {shown.alias} to your "
        "supporter; they will not see your name. The details follow in this chat, and My "
        "bookings lets you cancel."
    )
    return cards.said(text, intake)


def _slot(value: Any) -> tuple[uuid.UUID | None, datetime | None]:
    """'supporter id|start' as the list gives it; anything else reads as nothing chosen."""
    supporter, _, start = str(value or "").partition("|")
    try:
        moment = datetime.fromisoformat(start)
        return uuid.UUID(supporter), moment if moment.tzinfo is not None else None
    except ValueError:
        return None, None


def _refused(
    runtime: Runtime,
    slug: str,
    data: dict[str, Any],
    zone_name: str | None,
    intake: IntakeOut,
    error: PeerLineError,
) -> cards.Card:
    if isinstance(error, SlotUnavailable):
        return times(runtime, slug, data, zone_name, TAKEN)
    if isinstance(error, NotFound):
        return times(runtime, slug, data, zone_name, NOT_LISTED)
    if error.field in ("topic", "mode", "language", "note"):
        return form_again(intake, error.message)
    return times(runtime, slug, data, zone_name, error.message[:1].upper() + error.message[1:])


def mine(
    runtime: Runtime,
    slug: str,
    aad_id: str,
    zone_name: str | None,
    *,
    told: str = "",
    trouble: str = "",
) -> cards.Card:
    """This person's upcoming bookings, found through the core's keyed look-up."""
    ctx = service_ctx(runtime, slug)
    with ctx.session:
        intake = programs.intake(ctx, slug)
        zone = zone_or(zone_name, intake.time_zone)
        program_id = programs.get_program(ctx, slug).id
        upcoming: list[tuple[datetime, str, str]] = []
        for request in identities.requests_of(ctx, program_id, "teams", aad_id):
            brief = requests.booking_brief(ctx, request) if request.status == "scheduled" else None
            if brief and brief.status == "confirmed" and brief.starts_at > ctx.now:
                label = _label(brief.starts_at, zone, brief.supporter.alias)
                upcoming.append(
                    (brief.starts_at, str(request.id), f"{label}, {mode_name(brief.mode)}")
                )
    booked = [(request_id, label) for _start, request_id, label in sorted(upcoming)]
    return cards.bookings_card(
        intake, booked[:MAX_BOOKINGS_SHOWN], str(zone), told=told, trouble=trouble
    )


def cancel(
    runtime: Runtime, slug: str, aad_id: str, data: dict[str, Any], zone_name: str | None
) -> cards.Card:
    """As the requester, and only once the core confirms the request is this person's."""
    try:
        request_id = uuid.UUID(str(data.get("request_id")))
    except ValueError:
        return mine(runtime, slug, aad_id, zone_name, trouble=NOT_YOURS)
    lookup = service_ctx(runtime, slug)
    with lookup.session:
        program_id = programs.get_program(lookup, slug).id
        owned = {r.id for r in identities.requests_of(lookup, program_id, "teams", aad_id)}
    if request_id not in owned:
        return mine(runtime, slug, aad_id, zone_name, trouble=NOT_YOURS)
    principal = Principal(role="requester", program_id=program_id, request_id=request_id)
    ctx = Ctx(runtime.session_factory(), principal, runtime.clock.now(), runtime.cipher)
    trouble = ""
    with ctx.session:  # ended before the list is read: SQLite holds its write lock until then
        try:
            requests.cancel(ctx, request_id)
        except ChangeClosed as error:  # too close to the session: say so, and whom to ask
            trouble = error.message[:1].upper() + error.message[1:]
        except Conflict:
            trouble = ALREADY_CLOSED
        except PeerLineError as error:
            trouble = error.message[:1].upper() + error.message[1:]
    return mine(
        runtime, slug, aad_id, zone_name, told="" if trouble else CANCELLED, trouble=trouble
    )
