"""Signing in to the console: passwords, lock-out, sessions, CSRF, roles and program scope."""

from __future__ import annotations

from sqlalchemy import select

from core.models import AuditEvent, ConsoleAccount, ConsoleSession
from core.services import accounts
from core.services.accounts import WRONG
from tests.console.conftest import EMAILS, PASSWORD, Console, other_program_client
from tests.helpers import system_ctx

SIGN_IN = "/console/sign-in"


def sign_in(console: Console, email: str, password: str, **extra: str):
    client = console.client()
    return client, console.post(client, SIGN_IN, email=email, password=password, **extra)


def sessions(console: Console) -> int:
    with system_ctx(console.app).session as session:
        return len(session.scalars(select(ConsoleSession)).all())


def test_a_page_sends_a_signed_out_person_to_sign_in_and_back(console):
    client = console.client()
    sent = client.get("/console/p/acme/")
    assert sent.status_code == 302
    assert sent.headers["Location"] == "/console/sign-in?next=/console/p/acme/"
    form = client.get(sent.headers["Location"]).get_data(as_text=True)
    assert 'name="next" value="/console/p/acme/"' in form
    assert 'autocomplete="current-password"' in form and '<label for="email">' in form
    signed = console.post(
        client, SIGN_IN, email=EMAILS["admin"], password=PASSWORD, next="/console/p/acme/"
    )
    assert signed.status_code == 302 and signed.headers["Location"] == "/console/p/acme/"
    cookie = signed.headers["Set-Cookie"]
    assert cookie.startswith("peerline_console=pls_")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/console" in cookie
    home = client.get("/console/p/acme/")
    assert home.status_code == 200 and "Acme Corp" in home.get_data(as_text=True)
    assert "Admin · admin" in home.get_data(as_text=True)


def test_the_next_page_is_only_ever_a_console_page(console):
    for elsewhere in ("https://evil.example/", "//evil.example/console/", "/api/v1/programs"):
        _, signed = sign_in(console, EMAILS["admin"], PASSWORD, next=elsewhere)
        assert signed.headers["Location"] == "/console/", elsewhere


def test_a_wrong_password_and_an_unknown_address_read_the_same(console):
    _, wrong = sign_in(console, EMAILS["admin"], "not the password at all")
    _, unknown = sign_in(console, "nobody@acme.test", PASSWORD)
    for refused in (wrong, unknown):
        page = refused.get_data(as_text=True)
        assert refused.status_code == 401 and WRONG in page and 'role="alert"' in page
        assert "Set-Cookie" not in refused.headers or "peerline_console" not in str(
            refused.headers.get_all("Set-Cookie")
        )
    assert sessions(console) == 0


def test_five_failures_lock_the_account_for_fifteen_minutes(console):
    for _ in range(4):
        assert sign_in(console, EMAILS["admin"], "wrong password!!")[1].status_code == 401
    locked = sign_in(console, EMAILS["admin"], "wrong password!!")[1]
    assert locked.status_code == 429
    assert "locked until" in locked.get_data(as_text=True)
    assert sign_in(console, EMAILS["admin"], PASSWORD)[1].status_code == 429, "even the right one"
    assert sign_in(console, EMAILS["coordinator"], PASSWORD)[1].status_code == 302, "per account"
    console.clock.advance(minutes=16)
    assert sign_in(console, EMAILS["admin"], PASSWORD)[1].status_code == 302
    with system_ctx(console.app).session as session:
        actions = session.scalars(select(AuditEvent.action)).all()
    assert "account.locked" in actions


def test_a_form_without_its_csrf_token_changes_nothing(console):
    client = console.client("admin")
    refused = client.post("/console/sign-out")
    assert refused.status_code == 400
    assert "did not come from this console" in refused.get_data(as_text=True)
    assert client.get("/console/p/acme/").status_code == 200, "still signed in"
    other = console.client()
    forged = other.post(SIGN_IN, data={"email": EMAILS["admin"], "password": PASSWORD})
    assert forged.status_code == 400


def test_signing_out_ends_the_session_on_the_server(console):
    client = console.client("admin")
    token = client.get_cookie("peerline_console", path="/console")
    assert token is not None
    out = console.post(client, "/console/sign-out", form_page="/console/p/acme/")
    assert out.status_code == 302 and "out=1" in out.headers["Location"]
    assert "You are signed out" in client.get(out.headers["Location"]).get_data(as_text=True)
    replay = console.client()
    replay.set_cookie("peerline_console", token.value, path="/console")
    assert replay.get("/console/p/acme/").status_code == 302, "the old cookie opens nothing"


def test_a_session_ends_after_eight_idle_hours_and_a_day_at_most(console):
    client = console.client("admin")
    console.clock.advance(hours=7)
    assert client.get("/console/p/acme/").status_code == 200
    console.clock.advance(hours=7)
    assert client.get("/console/p/acme/").status_code == 200, "seen 7 hours ago"
    console.clock.advance(hours=8, minutes=1)
    assert client.get("/console/p/acme/").status_code == 302


def test_an_account_sees_only_its_own_program(console):
    client = other_program_client(console)
    assert client.get("/console/p/acme/").status_code == 404
    assert client.get("/console/").headers["Location"] == "/console/p/globex/"
    operator = console.client("operator")
    listing = operator.get("/console/").get_data(as_text=True)
    assert "Acme Corp" in listing and "Globex" in listing
    assert operator.get("/console/p/globex/").status_code == 200


def test_a_supporter_signs_in_to_their_own_program(console):
    client = console.client("supporter")
    assert client.get("/console/").headers["Location"] == "/console/p/acme/"
    assert client.get("/console/p/acme/").status_code == 200


def test_a_disabled_account_is_signed_out_at_once(console):
    client = console.client("coordinator")
    ctx = system_ctx(console.app)
    with ctx.session:
        account = ctx.session.scalars(
            select(ConsoleAccount).where(ConsoleAccount.email == EMAILS["coordinator"])
        ).one()
        accounts.disable(ctx, account.id)
        ctx.session.commit()
    assert client.get("/console/p/acme/").status_code == 302
    assert sign_in(console, EMAILS["coordinator"], PASSWORD)[1].status_code == 401


def test_the_style_sheet_loads_signed_out_too(console):
    with console.client().get("/console/static/console.css") as sheet:
        assert sheet.status_code == 200 and sheet.mimetype == "text/css"
        assert ".error" in sheet.get_data(as_text=True)


def test_console_pages_carry_strict_headers(console):
    page = console.client("admin").get("/console/p/acme/")
    policy = page.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["X-Frame-Options"] == "DENY"


def test_the_audit_log_names_the_account_not_the_person(console):
    console.client("admin")
    with system_ctx(console.app).session as session:
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "account.signed_in")
        ).one()
    assert event.actor.startswith("account:") and EMAILS["admin"] not in str(event.details)
    assert event.details == {"via": "password"}


def test_passwords_are_stored_as_argon2id_hashes(console):
    with system_ctx(console.app).session as session:
        stored = session.scalars(select(ConsoleAccount.password_hash)).all()
    assert all(h is not None and h.startswith("$argon2id$") for h in stored)
    assert all(PASSWORD not in (h or "") for h in stored)
