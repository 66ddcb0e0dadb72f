"""Admins manage who may sign in to their program's console."""

from __future__ import annotations

from sqlalchemy import select

from core.models import ConsoleAccount
from tests.console.conftest import EMAILS, PASSWORD, Console
from tests.helpers import system_ctx

PAGE = "/console/p/acme/accounts"


def stored(console: Console) -> set[str]:
    with system_ctx(console.app).session as session:
        return set(session.scalars(select(ConsoleAccount.email)).all())


def test_an_admin_adds_a_coordinator_who_can_then_sign_in(console):
    admin = console.client("admin")
    listed = admin.get(PAGE).get_data(as_text=True)
    assert EMAILS["coordinator"] in listed and EMAILS["operator"] not in listed
    added = console.post(
        admin, PAGE, email="New.Coord@Acme.test", name="Rowan", role="coordinator",
        password="another long password",
    )  # fmt: skip
    assert added.status_code == 302
    assert "Added new.coord@acme.test" in admin.get(PAGE).get_data(as_text=True)
    fresh = console.client()
    signed = console.post(
        fresh, "/console/sign-in", email="new.coord@acme.test", password="another long password"
    )
    assert signed.status_code == 302


def test_bad_input_shows_the_form_again_and_stores_nothing(console):
    admin = console.client("admin")
    before = stored(console)
    cases = [
        ({"email": "not-an-address", "name": "X", "role": "coordinator"}, "e-mail address"),
        ({"email": "a@acme.test", "name": "", "role": "coordinator"}, "name of 1 to 120"),
        ({"email": "a@acme.test", "name": "X", "role": "supporter"}, "choose a supporter"),
        ({"email": "a@acme.test", "name": "X", "role": "coordinator", "password": "short"}, "12"),
        ({"email": EMAILS["admin"], "name": "X", "role": "admin"}, "exists"),
        ({"email": "a@acme.test", "name": "X", "role": "coordinator", "supporter": "zz"}, "choose"),
    ]
    for form, problem in cases:
        shown = console.post(admin, PAGE, **form)
        page = shown.get_data(as_text=True)
        assert shown.status_code == 422, form
        assert problem in page and 'role="alert"' in page and "aria-invalid" in page, form
    assert stored(console) == before


def test_disabling_and_unlocking(console):
    admin = console.client("admin")
    coordinator = console.client("coordinator")
    with system_ctx(console.app).session as session:
        target = session.scalars(
            select(ConsoleAccount).where(ConsoleAccount.email == EMAILS["coordinator"])
        ).one()
    for _ in range(5):
        console.post(console.client(), "/console/sign-in", email=EMAILS["supporter"], password="x")
    assert "locked" in admin.get(PAGE).get_data(as_text=True)
    with system_ctx(console.app).session as session:
        ash = session.scalars(
            select(ConsoleAccount).where(ConsoleAccount.email == EMAILS["supporter"])
        ).one()
    console.post(admin, f"{PAGE}/{ash.id}/unlock", form_page=PAGE)
    again = console.post(
        console.client(), "/console/sign-in", email=EMAILS["supporter"], password=PASSWORD
    )
    assert again.status_code == 302
    gone = console.post(admin, f"{PAGE}/{target.id}/disable", form_page=PAGE)
    assert gone.status_code == 302
    assert coordinator.get("/console/p/acme/").status_code == 302, "signed out at once"


def test_only_admins_of_the_program_manage_accounts(console):
    assert console.client("coordinator").get(PAGE).status_code == 403
    assert console.client("supporter").get(PAGE).status_code == 403
    admin = console.client("admin")
    with system_ctx(console.app).session as session:
        operator = session.scalars(
            select(ConsoleAccount).where(ConsoleAccount.email == EMAILS["operator"])
        ).one()
    refused = console.post(admin, f"{PAGE}/{operator.id}/disable", form_page=PAGE)
    assert refused.status_code == 404, "an account outside the program is not found"
    assert (
        admin.post(PAGE, data={"email": "x@acme.test", "name": "X", "role": "admin"}).status_code
        == 400
    )
