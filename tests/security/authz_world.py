"""The authorization matrix's world: two programs, a credential per role, and fresh targets."""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from core.console.session import COOKIE
from core.migrations import plugin_schemas
from core.models import Base, ConsoleAccount, Delivery
from core.runtime import runtime
from core.services import accounts, programs, requests
from tests.conftest import START
from tests.helpers import auth, system_ctx

SUBJECT = "U-MATRIX-SUBJECT-7731"
OTHER_SUBJECT = "U-MATRIX-OTHER-5512"
EMAIL = "hidden.requester.7731@example.org"
NOTES = ("MATRIX-NOTE landlord Priya threatens eviction", "MATRIX-NOTE-2 panic before exams")
UNASSIGNED_NOTE = "MATRIX-NOTE-3 nadie sabe que estoy aqui"
UNASSIGNED_SUBJECT = "U-MATRIX-NOBODYS-9090"
METRICS_TOKEN = "m" * 32
ROLES = (
    "anonymous",
    "requester",
    "other_requester",
    "supporter",
    "coordinator",
    "admin",
    "service",
    "other_admin",
    "operator",
)
"""requester: the token of the request the targets belong to; other_requester: another
request's token; other_admin: the admin of program `globex`; operator: a deployment-wide
admin (API token and console account without a program)."""
STAFF = ("coordinator", "admin", "other_admin", "operator")
OTHER_PROGRAM = ("other_admin", "other_coordinator", "other_supporter", "other_service")
"""globex's people: beyond the matrix's other_admin, checked to learn nothing of acme."""
CONSOLE_ACCOUNTS = {
    "supporter": ("ash@acme.test", "supporter", "acme"),
    "coordinator": ("coordinator@acme.test", "coordinator", "acme"),
    "admin": ("admin@acme.test", "admin", "acme"),
    "other_admin": ("admin@globex.test", "admin", "globex"),
    "other_coordinator": ("coordinator@globex.test", "coordinator", "globex"),
    "other_supporter": ("gale@globex.test", "supporter", "globex"),
    "operator": ("operator@peerline.test", "admin", None),
}
PLUGIN_ENV = {
    "SLACK_CLIENT_ID": "1111.2222",
    "SLACK_CLIENT_SECRET": "slack-client-secret-for-matrix",
    "SLACK_SIGNING_SECRET": "slack-signing-secret-for-matrix",
    "SLACK_API_URL": "http://127.0.0.1:9/api/",
    "TEAMS_APP_ID": "matrix-app",
    "TEAMS_APP_PASSWORD": "matrix-app-password",
    "TEAMS_TENANT_ID": "matrix-tenant",
    "TEAMS_OPENID_METADATA_URL": "http://127.0.0.1:9/openid",
    "TEAMS_AUTHORITY_HOST": "http://127.0.0.1:9",
    "LMS_CANVAS_URL": "http://127.0.0.1:9",
    "LMS_CANVAS_CLIENT_ID": "10000000000001",
    "LMS_CANVAS_CLIENT_SECRET": "canvas-secret-for-matrix",
    "LMS_CANVAS_COURSE": "42",
    "LMS_CANVAS_PROGRAM": "acme",
}
"""Every plugin on (nothing is contacted at start), so every route they add is in the map."""
CSRF_KEPT = "_matrix_csrf_token"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Fixture:
    """What one world made: the ids of its records and the secrets that must stay hidden."""

    ash: str = ""
    birch: str = ""
    globex_supporter: str = ""
    main_request: str = ""
    main_alias: str = ""
    main_booking: str = ""
    other_request: str = ""
    other_alias: str = ""
    other_offer: str = ""
    unassigned_request: str = ""
    unassigned_alias: str = ""


@dataclass
class World:
    """The app with every plugin, programs acme and globex, and a credential for each role."""

    app: Flask
    made: Fixture = field(default_factory=Fixture)
    tokens: dict[str, str] = field(default_factory=dict)
    consoles: dict[str, FlaskClient] = field(default_factory=dict)
    account_ids: dict[str, str] = field(default_factory=dict)
    counter: Iterator[int] = field(default_factory=itertools.count)

    # -- calling the app -------------------------------------------------------------------

    def api(self, method: str, path: str, token: str, body: Any = None) -> Any:
        """A call the world needs to succeed (setting up a target)."""
        response = self.app.test_client().open(path, method=method, json=body, headers=auth(token))
        assert response.status_code < 300, (method, path, response.get_data(as_text=True))
        return response.json

    def console_client(self, role: str) -> FlaskClient:
        """The signed-in client of a role with a console account; a fresh one otherwise."""
        return self.consoles.get(role) or self.app.test_client()

    def signed_in(self, role: str) -> FlaskClient:
        """A new client with a new console session of the role's account."""
        ctx = system_ctx(self.app)
        with ctx.session:
            account = ctx.session.get_one(ConsoleAccount, uuid.UUID(self.account_ids[role]))
            token = accounts.start_session(ctx, account, "password")
        client = self.app.test_client()
        client.set_cookie(COOKIE, token, path="/console")
        return client

    def csrf(self, client: FlaskClient) -> str:
        """The client's CSRF token, as a form page it opened would carry it (kept per client)."""
        known: str | None = getattr(client, CSRF_KEPT, None)
        if known is None:
            page = client.get("/console/sign-in").get_data(as_text=True)
            found = _CSRF.search(page)
            assert found, "no CSRF token on the sign-in page"
            known = found.group(1)
            setattr(client, CSRF_KEPT, known)
        return known

    def n(self) -> int:
        return next(self.counter)

    # -- fresh targets, so an allowed write never spends the world's own records -----------

    def fresh_supporter(self, *, status: str = "active") -> str:
        """A supporter nobody is offered to (Spanish only), optionally paused."""
        body = {
            "alias": f"Fresh {self.n()}",
            "time_zone": "Europe/London",
            "languages": ["es"],
            "topics": ["general"],
            "modes": ["text"],
        }
        made = self.api("POST", "/api/v1/supporters?program=acme", self.tokens["admin"], body)
        if status == "paused":
            self.api("POST", f"/api/v1/supporters/{made['id']}/pause", self.tokens["admin"])
        return str(made["id"])

    def fresh_request(self, *, note: str | None = None, **fields: Any) -> dict[str, Any]:
        body = {
            "program": "acme",
            "topic": "stress",
            "urgency": "now",
            "mode": "text",
            "language": "en",
            **fields,
        }
        if note:
            body["note"] = note
        return dict(self.api("POST", "/api/v1/requests", self.tokens["service"], body))

    def fresh_open(self) -> dict[str, Any]:
        """A request waiting to be booked (nothing offered)."""
        return self.fresh_request(urgency="scheduled", topic="general", mode="video")

    def fresh_offer(self, **fields: Any) -> tuple[dict[str, Any], str]:
        """A talk-now request and the pending offer it made to Ash."""
        made = self.fresh_request(**fields)
        offers = self.api("GET", "/api/v1/offers?status=pending", self.tokens["supporter"])
        [offer] = [o for o in offers if o["request_id"] == made["id"]]
        return made, str(offer["id"])

    def fresh_chat(self, *, closed: bool = False) -> dict[str, Any]:
        """A talk-now request Ash accepted (and, with `closed`, completed)."""
        made, offer = self.fresh_offer()
        self.api("POST", f"/api/v1/offers/{offer}/accept", self.tokens["supporter"])
        if closed:
            path = f"/api/v1/requests/{made['id']}/close"
            self.api("POST", path, self.tokens["supporter"], {"outcome": "completed"})
        return made

    def close_quietly(self, request_id: str) -> None:
        """Free Ash's concurrent-chat capacity after a cell left a chat running."""
        ctx = system_ctx(self.app)
        with ctx.session:
            found = requests.get_request(ctx, uuid.UUID(request_id))
            if found.status in requests.LIVE:
                requests.close_session(ctx, found.id, "completed")

    def free_slot(self) -> str:
        """Ash's next free time (each booking the matrix makes takes one)."""
        path = f"/api/v1/slots?program=acme&supporter={self.made.ash}"
        return str(self.api("GET", path, self.tokens["admin"])["slots"][0]["starts_at"])

    def fresh_booking(self) -> dict[str, Any]:
        """A request booked with Ash at the next free time; `booking` holds the booking."""
        slot = {"supporter_id": self.made.ash, "starts_at": self.free_slot()}
        return self.fresh_request(urgency="scheduled", topic="general", mode="video", slot=slot)

    def fresh_token(self) -> str:
        body = {"role": "coordinator", "name": f"spare {self.n()}"}
        return str(
            self.api("POST", "/api/v1/tokens?program=acme", self.tokens["admin"], body)["id"]
        )

    def fresh_training(self, supporter: str) -> str:
        body = {"name": f"Course {self.n()}", "completed_on": "2026-01-05"}
        path = f"/api/v1/supporters/{supporter}/trainings"
        return str(self.api("POST", path, self.tokens["admin"], body)["id"])

    def future_day(self) -> str:
        """A date of its own for each override, past every slot the matrix books."""
        return (START + timedelta(days=200 + self.n())).date().isoformat()

    def fresh_override(self, supporter: str) -> str:
        path = f"/api/v1/supporters/{supporter}/overrides"
        body = {"date": self.future_day(), "available": False}
        return str(self.api("POST", path, self.tokens["admin"], body)["id"])

    def fresh_dead_letter(self) -> str:
        ctx = system_ctx(self.app)
        with ctx.session:
            row = Delivery(
                dedupe_key=f"matrix:{uuid.uuid4()}",
                program_id=programs.get_program(ctx, "acme").id,
                audience="supporter",
                kind="offer",
                request_id=None,
                supporter_id=uuid.UUID(self.made.ash),
                data={},
                status="dead",
                channel="email",
                attempts=8,
                next_attempt_at=ctx.now,
                last_error="SMTP 535 authentication failed",
                created_at=ctx.now,
                finished_at=ctx.now,
            )
            ctx.session.add(row)
            ctx.session.commit()
            return str(row.id)

    def fresh_account(self) -> str:
        ctx = system_ctx(self.app)
        with ctx.session:
            made = accounts.create(
                ctx,
                email=f"spare{self.n()}@acme.test",
                role="coordinator",
                display_name="Spare",
                program_id=programs.get_program(ctx, "acme").id,
            )
            ctx.session.commit()
            return str(made.id)

    # -- what a denied call must leave alone -------------------------------------------------

    def snapshot(self) -> dict[str, list[str]]:
        """Every row of every table, as text: a denied write must leave all of it as it was."""
        tables = [*Base.metadata.sorted_tables]
        for schema in plugin_schemas():
            tables += schema.metadata.sorted_tables
        with runtime(self.app).engine.connect() as connection:
            return {
                table.name: sorted(repr(tuple(row)) for row in connection.execute(select(table)))
                for table in tables
            }
