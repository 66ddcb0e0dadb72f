"""The authorization matrix of the JSON API: every endpoint, every role, the expected outcome.

A target written here is the requester's own request (`main_request`, booked with Ash, with a
note and an identity), Ash (the supporter role's own record) and acme's records; another
program's admin reaches none of them (404, never 403: existence must not leak). Writes that
would spend the world's records act on fresh ones (`setup`).
"""

from __future__ import annotations

from tests.security.authz_cells import Do, Entry, Values, api
from tests.security.authz_world import World

P = "/api/v1"
ACME = "program={slug}"
WEEKLY = [
    {"weekday": d, "start": "08:00", "end": "20:00"} for d in ("mon", "tue", "wed", "thu", "fri")
]


def fresh_request(world: World) -> Values:
    made = world.fresh_open()
    return {"request_id": made["id"], "own_token": made["token"]}


def fresh_chat(world: World) -> Values:
    made = world.fresh_chat()
    return {"request_id": made["id"], "own_token": made["token"]}


def closed_chat(world: World) -> Values:
    made = world.fresh_chat(closed=True)
    return {"request_id": made["id"], "own_token": made["token"]}


def fresh_offer(world: World) -> Values:
    made, offer = world.fresh_offer()
    return {"offer_id": offer, "request_id": made["id"]}


def fresh_booking(world: World) -> Values:
    made = world.fresh_booking()
    return {
        "booking_id": made["booking"]["id"],
        "own_token": made["token"],
        "slot": world.free_slot(),
    }


def open_with_slot(world: World) -> Values:
    return {**fresh_request(world), "slot": world.free_slot()}


def fresh_supporter(world: World) -> Values:
    return {"supporter_id": world.fresh_supporter()}


def paused_ash(world: World) -> Values:
    world.api("POST", f"{P}/supporters/{world.made.ash}/pause", world.tokens["admin"])
    return {}


def resume_ash(world: World, _: Values) -> None:
    ash = world.api("GET", f"{P}/supporters/{world.made.ash}", world.tokens["admin"])
    if ash["status"] == "paused":
        world.api("POST", f"{P}/supporters/{world.made.ash}/resume", world.tokens["admin"])


def close_chat(world: World, values: Values) -> None:
    world.close_quietly(values["request_id"])


def new_program(world: World) -> Values:
    return {"slug": f"new-{world.n()}"}


def new_alias(world: World) -> Values:
    return {"alias": f"Added {world.n()}"}


SCHEDULED = {
    "program": "acme",
    "topic": "general",
    "urgency": "scheduled",
    "mode": "video",
    "language": "en",
}
SUPPORTER_IN = {"time_zone": "UTC", "languages": ["es"], "topics": ["general"], "modes": ["text"]}

API: dict[tuple[str, str], Entry] = {
    ("GET", f"{P}/programs"): Entry(api("coordinator admin service operator", other_admin="2xx")),
    ("POST", f"{P}/programs"): Entry(
        api("operator", other_admin="403"),
        Do(
            setup=new_program,
            json=lambda v: {"slug": v["slug"], "name": "New", "kind": "school", "time_zone": "UTC"},
        ),
    ),
    ("GET", f"{P}/programs/<slug>"): Entry(
        api("coordinator admin service operator", other_admin="404")
    ),
    ("PATCH", f"{P}/programs/<slug>"): Entry(
        api("admin operator", other_admin="404"), Do(json={"name": "Acme Corp"})
    ),
    ("GET", f"{P}/programs/<slug>/intake"): Entry(
        api(
            "anonymous requester supporter coordinator admin service operator",
            other_admin="404",  # its token names another program; acme is not there for it
        )
    ),
    ("POST", f"{P}/requests"): Entry(
        api("anonymous service", other_admin="403"), Do(json=SCHEDULED)
    ),
    ("GET", f"{P}/requests/<uuid:request_id>"): Entry(
        api("requester service", other_admin="403", other_requester="404")
    ),
    ("GET", f"{P}/requests/<uuid:request_id>/assigned"): Entry(
        api("supporter service", other_admin="403")
    ),
    ("POST", f"{P}/requests/<uuid:request_id>/cancel"): Entry(
        api("requester service", other_admin="403", other_requester="404"),
        Do(setup=fresh_request, json={}),
    ),
    ("POST", f"{P}/requests/<uuid:request_id>/start-chat"): Entry(
        api("supporter service", other_admin="403"), Do(setup=fresh_chat, cleanup=close_chat)
    ),
    ("POST", f"{P}/requests/<uuid:request_id>/close"): Entry(
        api("supporter service", other_admin="403"),
        Do(setup=fresh_chat, json={"outcome": "completed"}, cleanup=close_chat),
    ),
    ("POST", f"{P}/requests/<uuid:request_id>/feedback"): Entry(
        api("requester", other_admin="403", other_requester="404"),
        Do(setup=closed_chat, json={"rating": 4}),
    ),
    ("DELETE", f"{P}/requests/<uuid:request_id>/token"): Entry(
        api("requester service", other_admin="403", other_requester="404"),
        Do(setup=fresh_request),
    ),
    ("GET", f"{P}/offers"): Entry(api("supporter service", other_admin="403")),
    ("POST", f"{P}/offers/<uuid:offer_id>/accept"): Entry(
        api("supporter service", other_admin="403"), Do(setup=fresh_offer, cleanup=close_chat)
    ),
    ("POST", f"{P}/offers/<uuid:offer_id>/decline"): Entry(
        api("supporter service", other_admin="403"), Do(setup=fresh_offer)
    ),
    ("GET", f"{P}/slots"): Entry(
        api(
            "anonymous requester supporter coordinator admin service operator",
            other_admin="404",
        ),
        Do(query=ACME),
    ),
    ("POST", f"{P}/bookings"): Entry(
        api("requester service", other_admin="403", other_requester="404"),
        Do(
            setup=open_with_slot,
            json=lambda v: (
                {"request_id": v["request_id"], "supporter_id": v["ash"]} | {"starts_at": v["slot"]}
            ),
        ),
    ),
    ("GET", f"{P}/bookings"): Entry(
        api("supporter coordinator service", other_admin="403"), Do(query=ACME)
    ),
    ("GET", f"{P}/bookings/<uuid:booking_id>"): Entry(
        api("requester supporter coordinator service", other_admin="403", other_requester="404")
    ),
    ("POST", f"{P}/bookings/<uuid:booking_id>/cancel"): Entry(
        api("requester supporter coordinator service", other_admin="403", other_requester="404"),
        Do(setup=fresh_booking, json={}),
    ),
    ("POST", f"{P}/bookings/<uuid:booking_id>/reschedule"): Entry(
        api("requester service", other_admin="403", other_requester="404"),
        Do(setup=fresh_booking, json=lambda v: {"starts_at": v["slot"]}),
    ),
    ("GET", f"{P}/supporters"): Entry(
        api("coordinator admin service operator", other_admin="404"), Do(query=ACME)
    ),
    ("POST", f"{P}/supporters"): Entry(
        api("admin operator", other_admin="404"),
        Do(query=ACME, setup=new_alias, json=lambda v: {"alias": v["alias"], **SUPPORTER_IN}),
    ),
    ("GET", f"{P}/supporters/<uuid:supporter_id>"): Entry(
        api("supporter coordinator admin service operator", other_admin="404")
    ),
    ("PATCH", f"{P}/supporters/<uuid:supporter_id>"): Entry(
        api("admin operator", other_admin="404"), Do(json={"external_ref": "HR-1"})
    ),
    ("POST", f"{P}/supporters/<uuid:supporter_id>/pause"): Entry(
        api("supporter coordinator admin operator", other_admin="404"), Do(cleanup=resume_ash)
    ),
    ("POST", f"{P}/supporters/<uuid:supporter_id>/resume"): Entry(
        api("supporter coordinator admin operator", other_admin="404"),
        Do(setup=paused_ash, cleanup=resume_ash),
    ),
    ("POST", f"{P}/supporters/<uuid:supporter_id>/offboard"): Entry(
        api("admin operator", other_admin="404"), Do(setup=fresh_supporter)
    ),
    ("GET", f"{P}/supporters/<uuid:supporter_id>/trainings"): Entry(
        api("supporter coordinator admin service operator", other_admin="404")
    ),
    ("POST", f"{P}/supporters/<uuid:supporter_id>/trainings"): Entry(
        api("coordinator admin operator", other_admin="404"),
        Do(json={"name": "Refresher", "completed_on": "2026-01-05"}),
    ),
    ("DELETE", f"{P}/supporters/<uuid:supporter_id>/trainings/<uuid:training_id>"): Entry(
        api("coordinator admin operator", other_admin="404"),
        Do(setup=lambda w: {"training_id": w.fresh_training(w.made.ash)}),
    ),
    ("GET", f"{P}/supporters/<uuid:supporter_id>/availability"): Entry(
        api("supporter coordinator admin service operator", other_admin="404")
    ),
    ("PUT", f"{P}/supporters/<uuid:supporter_id>/availability"): Entry(
        api("supporter coordinator admin operator", other_admin="404"), Do(json={"weekly": WEEKLY})
    ),
    ("GET", f"{P}/supporters/<uuid:supporter_id>/overrides"): Entry(
        api("supporter coordinator admin service operator", other_admin="404")
    ),
    ("POST", f"{P}/supporters/<uuid:supporter_id>/overrides"): Entry(
        api("supporter coordinator admin operator", other_admin="404"),
        Do(
            setup=lambda w: {"day": w.future_day()},
            json=lambda v: {"date": v["day"], "available": False},
        ),
    ),
    ("DELETE", f"{P}/supporters/<uuid:supporter_id>/overrides/<uuid:override_id>"): Entry(
        api("supporter coordinator admin operator", other_admin="404"),
        Do(setup=lambda w: {"override_id": w.fresh_override(w.made.ash)}),
    ),
    ("GET", f"{P}/audit"): Entry(
        api("coordinator admin operator", other_admin="404"), Do(query=ACME)
    ),
    ("GET", f"{P}/tokens"): Entry(api("admin operator", other_admin="404"), Do(query=ACME)),
    ("POST", f"{P}/tokens"): Entry(
        api("admin operator", other_admin="404"),
        Do(query=ACME, json={"role": "coordinator", "name": "spare"}),
    ),
    ("POST", f"{P}/tokens/<uuid:token_id>/revoke"): Entry(
        api("admin operator", other_admin="404"), Do(setup=lambda w: {"token_id": w.fresh_token()})
    ),
    ("GET", f"{P}/deliveries/summary"): Entry(
        api("coordinator admin operator", other_admin="404"), Do(query=ACME)
    ),
    ("GET", f"{P}/deliveries/dead"): Entry(
        api("coordinator admin operator", other_admin="404"), Do(query=ACME)
    ),
    ("POST", f"{P}/deliveries/<uuid:delivery_id>/retry"): Entry(
        api("coordinator admin operator", other_admin="404"),
        Do(setup=lambda w: {"delivery_id": w.fresh_dead_letter()}),
    ),
}
