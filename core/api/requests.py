"""/api/v1/requests and /api/v1/offers"""

from __future__ import annotations

import uuid
from typing import Any

from core.api.context import ctx
from core.api.framework import ANONYMOUS, REQUESTER, ApiBlueprint
from core.api.supporters import _program
from core.models import SupportRequest
from core.schemas.common import Locale, Query
from core.schemas.requests import (
    AssignedRequest,
    CancelIn,
    CloseIn,
    FeedbackIn,
    OfferOut,
    OfferQuery,
    OfferRequest,
    RequestCreatedOut,
    RequestIn,
    RequestView,
)
from core.services import matching, requests, tokens

bp = ApiBlueprint("requests", __name__, tag="requests")


class ViewQuery(Query):
    locale: Locale | None = None


@bp.operation(
    "POST",
    "/requests",
    summary="Ask for a peer chat, anonymously (talk now or book a time)",
    roles={ANONYMOUS, "service"},
    body=RequestIn,
    response=RequestCreatedOut,
    status=201,
    errors=(404, 409),
    idempotent=True,
)
def create_request(principal: Any, body: RequestIn) -> RequestCreatedOut:
    c = ctx()
    request, token = requests.create(c, body)
    view = requests.view(c, request, body.locale)
    return RequestCreatedOut(**view.model_dump(), token=token)


@bp.operation(
    "GET",
    "/requests/<uuid:request_id>",
    summary="The requester's view of their request",
    roles={REQUESTER, "service"},
    query=ViewQuery,
    response=RequestView,
    errors=(404,),
)
def get_request(principal: Any, request_id: uuid.UUID, query: ViewQuery) -> RequestView:
    c = ctx()
    return requests.view(c, requests.get_request(c, request_id), query.locale)


@bp.operation(
    "GET",
    "/requests/<uuid:request_id>/assigned",
    summary="The assigned supporter's view (alias, topic and note; never an identity)",
    roles={"supporter", "service"},
    response=AssignedRequest,
    errors=(404,),
)
def get_assigned(principal: Any, request_id: uuid.UUID) -> AssignedRequest:
    c = ctx()
    return requests.assigned_view(c, requests.get_request(c, request_id))


@bp.operation(
    "POST",
    "/requests/<uuid:request_id>/cancel",
    summary="Withdraw or cancel",
    roles={REQUESTER, "service"},
    body=CancelIn,
    response=RequestView,
    errors=(404, 409),
)
def cancel_request(principal: Any, request_id: uuid.UUID, body: CancelIn) -> RequestView:
    c = ctx()
    return requests.view(c, requests.cancel(c, request_id))


@bp.operation(
    "POST",
    "/requests/<uuid:request_id>/start-chat",
    summary="Mark the chat as running",
    roles={"supporter", "service"},
    response=AssignedRequest,
    errors=(404, 409),
)
def start_chat(principal: Any, request_id: uuid.UUID) -> AssignedRequest:
    c = ctx()
    return requests.assigned_view(c, requests.start_chat(c, request_id))


@bp.operation(
    "POST",
    "/requests/<uuid:request_id>/close",
    summary="End the session",
    roles={"supporter", "service"},
    body=CloseIn,
    response=AssignedRequest,
    errors=(404, 409),
)
def close_request(principal: Any, request_id: uuid.UUID, body: CloseIn) -> AssignedRequest:
    c = ctx()
    return requests.assigned_view(c, requests.close_session(c, request_id, body.outcome))


@bp.operation(
    "POST",
    "/requests/<uuid:request_id>/feedback",
    summary="Rate a completed session; stored unlinked from the request",
    roles={REQUESTER},
    body=FeedbackIn,
    errors=(404, 409),
)
def give_feedback(principal: Any, request_id: uuid.UUID, body: FeedbackIn) -> None:
    requests.give_feedback(ctx(), request_id, body)


@bp.operation(
    "DELETE",
    "/requests/<uuid:request_id>/token",
    summary="End the requester token (a private link shared by mistake); the request stays",
    roles={REQUESTER, "service"},
    errors=(404,),
)
def revoke_token(principal: Any, request_id: uuid.UUID) -> None:
    tokens.revoke_requester(ctx(), request_id)


def _offer_out(offer: Any, request: Any) -> OfferOut:
    return OfferOut(
        id=offer.id,
        status=offer.status,
        created_at=offer.created_at,
        expires_at=offer.expires_at,
        request_id=request.id,
        request=OfferRequest.model_validate(request),
    )


@bp.operation(
    "GET",
    "/offers",
    summary="Offers: a supporter's own, or an integration's",
    roles={"supporter", "service"},
    query=OfferQuery,
    response=list[OfferOut],
)
def list_offers(principal: Any, query: OfferQuery) -> list[OfferOut]:
    c = ctx()
    found = matching.list_offers(c, _program(c, query.program), query.supporter, query.status)
    return [_offer_out(o, r) for o, r in found]


@bp.operation(
    "POST",
    "/offers/<uuid:offer_id>/accept",
    summary="Accept; the first acceptance wins, later ones get 409 already_taken",
    roles={"supporter", "service"},
    response=OfferOut,
    errors=(404, 409),
)
def accept_offer(principal: Any, offer_id: uuid.UUID) -> OfferOut:
    offer, request = matching.accept(ctx(), offer_id)
    return _offer_out(offer, request)


@bp.operation(
    "POST",
    "/offers/<uuid:offer_id>/decline",
    summary="Decline; the request moves on",
    roles={"supporter", "service"},
    response=OfferOut,
    errors=(404, 409),
)
def decline_offer(principal: Any, offer_id: uuid.UUID) -> OfferOut:
    c = ctx()
    offer = matching.decline(c, offer_id)
    return _offer_out(offer, c.session.get_one(SupportRequest, offer.request_id))
