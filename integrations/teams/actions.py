"""What a card's button does, as the person who pressed it; the answer is the next card."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from core.errors import AlreadyTaken, NotFound, PeerLineError
from core.schemas.programs import IntakeOut
from core.schemas.requests import FeedbackIn, RequestIn
from core.services import identities, matching, programs, requests, roster
from core.services.access import Ctx, Principal
from integrations.teams import cards

if TYPE_CHECKING:
    from core.runtime import Runtime

NOT_A_SUPPORTER = "You are not on this program's supporter roster, so you cannot take offers."


def program_slug(runtime: Runtime, configured: str | None) -> str | None:
    """TEAMS_PROGRAM, else the only workplace program."""
    if configured:
        return configured
    ctx = runtime.system_ctx()
    with ctx.session:
        return programs.sole_workplace(ctx)


def service_ctx(runtime: Runtime, slug: str) -> Ctx:
    """A unit of work with the powers of the program's integration, nothing more."""
    ctx = runtime.system_ctx()
    with ctx.session:
        program_id = programs.get_program(ctx, slug).id
    principal = Principal(role="service", program_id=program_id)
    return Ctx(runtime.session_factory(), principal, runtime.clock.now(), runtime.cipher)


def form(runtime: Runtime, slug: str) -> cards.Card:
    ctx = service_ctx(runtime, slug)
    with ctx.session:
        return cards.request_form(programs.intake(ctx, slug))


def ask(runtime: Runtime, slug: str, aad_id: str, data: dict[str, Any]) -> cards.Card:
    """The form's answer: a request from this person (talk now), or the form with the problem."""
    fields = {k: data.get(k) for k in ("topic", "mode", "language", "note") if data.get(k)}
    body = {
        "program": slug,
        "urgency": "now",
        "channel": "teams",
        "requester": {"platform": "teams", "subject": aad_id},
        **fields,
    }
    ctx = service_ctx(runtime, slug)
    with ctx.session:
        intake = programs.intake(ctx, slug)
        if data.get("when") not in (None, "", "now"):
            return form_again(intake, "When: choose Talk now or Book a time.")
        try:
            request, _token = requests.create(ctx, RequestIn.model_validate_json(json.dumps(body)))
        except ValidationError as exc:
            return form_again(intake, problem_of(exc))
        except PeerLineError as error:
            return form_again(intake, error.message)
        shown = requests.view(ctx, request)
    text = (
        f"You are {shown.alias} to your supporter; they will not see your name. "
        "We are asking supporters now and will message you here."
    )
    return cards.said(text, intake)


MISSING = {
    "topic": "Choose a topic.",
    "mode": "Choose how to talk.",
    "language": "Choose a language.",
}


def problem_of(exc: ValidationError) -> str:
    """The first problem, naming the answer it is about."""
    first = exc.errors()[0]
    field = str(first["loc"][0]) if first["loc"] else ""
    if first["type"] == "missing" and field in MISSING:
        return MISSING[field]
    message = str(first["msg"]).removeprefix("Value error, ")
    return f"{field}: {message}" if field else message


def form_again(intake: IntakeOut, trouble: str) -> cards.Card:
    """The request form with what was wrong, in red, under its title."""
    form_card = cards.request_form(intake)
    form_card["body"].insert(1, cards.problem(trouble))
    return form_card


def answer_offer(runtime: Runtime, slug: str, aad_id: str, verb: str, offer: str) -> cards.Card:
    """Accept or decline as the supporter behind this Teams user; the card says what happened."""
    ctx = _supporter_ctx(runtime, slug, aad_id)
    try:
        offer_id = uuid.UUID(offer)
    except ValueError:
        return cards.said("That offer could not be found.")
    if ctx is None:
        return cards.said(NOT_A_SUPPORTER)
    with ctx.session:
        try:
            if verb == "offer_accept":
                _offer, request = matching.accept(ctx, offer_id)  # the core starts the chat
                return cards.said(f"You accepted. {request.alias} will hear from you here soon.")
            matching.decline(ctx, offer_id)
            return cards.said("You declined this one. Thank you; it goes to someone else.")
        except AlreadyTaken:
            return cards.said("Another supporter took this one already. Thank you.")
        except (NotFound, PeerLineError) as error:
            return cards.said(error.message[:1].upper() + error.message[1:] + ".")


def _supporter_ctx(runtime: Runtime, slug: str, aad_id: str) -> Ctx | None:
    lookup = service_ctx(runtime, slug)
    with lookup.session:
        program = programs.get_program(lookup, slug)
        supporter = roster.find_by_contact(lookup, program.id, "teams", aad_id)
    if supporter is None:
        return None
    principal = Principal(role="supporter", program_id=program.id, supporter_id=supporter.id)
    return Ctx(runtime.session_factory(), principal, runtime.clock.now(), None)


def feedback(runtime: Runtime, slug: str, aad_id: str, data: dict[str, Any]) -> cards.Card:
    """Only for one's own completed chat, once; the rating keeps no link to it."""
    try:
        request_id = uuid.UUID(str(data.get("request_id")))
        given = FeedbackIn.model_validate_json(
            json.dumps(
                {"rating": int(str(data.get("rating"))), "comment": data.get("comment") or None}
            )
        )
    except (ValueError, ValidationError):
        return cards.said("Choose a rating from 1 to 5.")
    lookup = service_ctx(runtime, slug)
    with lookup.session:
        program_id = programs.get_program(lookup, slug).id
        mine = {r.id for r in identities.requests_of(lookup, program_id, "teams", aad_id)}
    if request_id not in mine:
        return cards.said("That chat could not be found.")
    principal = Principal(role="requester", program_id=program_id, request_id=request_id)
    ctx = Ctx(runtime.session_factory(), principal, runtime.clock.now(), runtime.cipher)
    with ctx.session:
        try:
            requests.give_feedback(ctx, request_id, given)
        except PeerLineError as error:
            return cards.said(error.message[:1].upper() + error.message[1:] + ".")
    return cards.said("Thank you. Your feedback helps the program, and nobody can link it to you.")
