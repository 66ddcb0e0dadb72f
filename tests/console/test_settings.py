"""The settings page: admins change policies, offerings and crisis resources; others may not."""

from __future__ import annotations

import re
import uuid
from html import unescape

import pytest
from sqlalchemy import select

from core.models import AuditEvent
from core.services import accounts, programs
from core.services.programs import program_out
from tests.console.conftest import PASSWORD
from tests.helpers import make_world, system_ctx

_INPUT = re.compile(r'<input id="([^"]+)" name="[^"]+" type="[^"]+" value="([^"]*)"')
_TEXTAREA = re.compile(r'<textarea id="([^"]+)" name="[^"]+"[^>]*>([^<]*)</textarea>')
_CHECKED = re.compile(r'name="([^"]+)" value="([^"]+)" checked')


def form_of(page: str) -> dict[str, object]:
    """What a browser would send from the settings page as it is shown."""
    data: dict[str, object] = {k: unescape(v) for k, v in _INPUT.findall(page)}
    data.update((k, unescape(v)) for k, v in _TEXTAREA.findall(page))
    data["csrf_token"] = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    data["crisis_count"] = re.search(r'name="crisis_count" value="(\d+)"', page).group(1)
    data["modes"] = [value for name, value in _CHECKED.findall(page) if name == "modes"]
    return data


def current(console):
    ctx = system_ctx(console.app)
    with ctx.session:
        return program_out(programs.get_program(ctx, console.world.slug))


def audit_actions(console) -> list[AuditEvent]:
    with system_ctx(console.app).session as session:
        return list(
            session.scalars(select(AuditEvent).where(AuditEvent.action == "program.updated"))
        )


def save(console, client, **changes):
    path = f"{console.base()}/settings"
    page = client.get(path).get_data(as_text=True)
    data = {**form_of(page), **changes}
    return client.post(path, data=data)


def test_admin_sees_every_policy_and_the_crisis_resources(console):
    page = console.client("admin").get(f"{console.base()}/settings").get_data(as_text=True)
    for label in (
        "Session length (minutes)",
        "Buffer between sessions",
        "Minimum notice",
        "Bookable this many days ahead",
        "An offer waits for an answer",
        "Sessions per supporter per week",
        "Chats per supporter at the same time",
        "Keep a request",
        "Smallest group a report shows",
        "Session reminders",
        "Cancel or move until",
        "mailbox for training notices",
        "Trainings a supporter must hold",
        "Topics offered",
        "Languages offered",
        "Ways to meet",
        "988 Suicide &amp; Crisis Lifeline",
        "Samaritans",
        "New crisis resource",
        "Save settings",
    ):
        assert label in page, label


def test_admin_changes_policies_and_offerings_and_it_is_audited(console):
    client = console.client("admin")
    answer = save(
        console,
        client,
        session_minutes="50",
        weekly_cap="3",
        min_report_group="8",
        reminder_minutes="60, 10",
        required_trainings="Peer support basics\nSafeguarding",
        notify_email="coordinators@acme.test",
        topics="stress, grief, money",
        languages="en, fr-CA",
        modes=["text", "in_person"],
    )
    assert answer.status_code == 302
    assert "Settings saved." in client.get(answer.location).get_data(as_text=True)
    now = current(console)
    assert now.policy.session_minutes == 50 and now.policy.weekly_cap == 3
    assert now.policy.min_report_group == 8 and now.policy.reminder_minutes == [60, 10]
    assert now.policy.required_trainings == ["Peer support basics", "Safeguarding"]
    assert now.policy.notify_email == "coordinators@acme.test"
    assert now.topics == ["stress", "grief", "money"] and now.languages == ["en", "fr-CA"]
    assert now.modes == ["text", "in_person"]
    [event] = audit_actions(console)
    assert event.actor.startswith("account:") and event.actor_role == "admin"
    assert "session_minutes" in event.details["fields"] and "modes" in event.details["fields"]
    assert "horizon_days" not in event.details["fields"]  # only what changed


def test_the_coordinators_mailbox_can_be_emptied(console):
    client = console.client("admin")
    assert save(console, client, notify_email="coordinators@acme.test").status_code == 302
    answer = save(console, client, notify_email="")
    assert answer.status_code == 302, answer.get_data(as_text=True)
    assert current(console).policy.notify_email is None
    assert 'id="notify_email" name="notify_email" type="email" value=""' in client.get(
        f"{console.base()}/settings"
    ).get_data(as_text=True)


def test_saving_without_changes_stores_nothing(console):
    client = console.client("admin")
    answer = save(console, client)
    assert answer.status_code == 302
    assert "Nothing changed." in client.get(answer.location).get_data(as_text=True)
    assert audit_actions(console) == []


def test_crisis_resources_are_added_edited_and_removed(console):
    client = console.client("admin")
    before = current(console).crisis_resources
    new = len(before)  # the empty row after the existing ones
    answer = save(
        console,
        client,
        **{
            f"crisis-{new}-locale": "fr",
            f"crisis-{new}-name": "SOS Amitié",
            f"crisis-{new}-contact": "09 72 39 40 50",
            f"crisis-{new}-url": "https://www.sos-amitie.com/",
            "crisis-0-contact": "Call or text 988, or chat online",
            "crisis-1-remove": "1",
        },
    )
    assert answer.status_code == 302, answer.get_data(as_text=True)
    after = current(console).crisis_resources
    names = [r.name for r in after]
    assert "SOS Amitié" in names and "Samaritans" not in names
    assert after[0].contact == "Call or text 988, or chat online"
    assert len(after) == len(before)
    page = client.get(f"{console.base()}/settings").get_data(as_text=True)
    assert "SOS Amitié" in page


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("min_report_group", "4", "Never below 5"),
        ("session_minutes", "abc", "Enter a whole number."),
        ("session_minutes", "5", "greater than or equal to 10"),
        ("languages", "english", "Use language codes"),
        ("notify_email", "not-an-address", "Enter an e-mail address"),
        ("crisis-0-url", "not a url", "Enter a full web address"),
        ("crisis-0-name", "", "at least 1 character"),
        ("topics", " , ", "Choose at least one."),
    ],
)
def test_bad_input_is_shown_again_with_the_error_and_nothing_is_stored(
    console, field, value, message
):
    client = console.client("admin")
    before = current(console)
    answer = save(console, client, **{field: value, "weekly_cap": "9"})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert message in page
    assert f'id="{field}-error"' in page
    assert re.search(rf'id="{field}"[^>]*aria-describedby="[^"]*{field}-error', page)
    assert 'role="alert"' in page
    assert current(console) == before
    assert audit_actions(console) == []


def test_no_mode_is_refused(console):
    answer = save(console, console.client("admin"), modes=[])
    assert answer.status_code == 422
    assert "Choose at least one." in answer.get_data(as_text=True)


def test_coordinator_sees_the_settings_but_cannot_save(console):
    client = console.client("coordinator")
    page = client.get(f"{console.base()}/settings")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Only a program admin can change these settings" in text and "Save settings" not in text
    answer = console.post(client, f"{console.base()}/settings", session_minutes="60")
    assert answer.status_code == 403
    assert current(console).policy.session_minutes == 45


def test_supporter_may_not_open_settings(console):
    assert console.client("supporter").get(f"{console.base()}/settings").status_code == 403


def test_another_programs_admin_is_told_it_does_not_exist(console):
    make_world(console.app, console.app.test_client(), slug="globex", name="Globex")
    ctx = system_ctx(console.app)
    with ctx.session:
        globex = programs.get_program(ctx, "globex")
        accounts.create(
            ctx,
            email="admin@globex.test",
            role="admin",
            display_name="Globex admin",
            program_id=globex.id,
            supporter_id=None,
            password=PASSWORD,
        )
        ctx.session.commit()
    client = console.app.test_client()
    console.post(client, "/console/sign-in", email="admin@globex.test", password=PASSWORD)
    assert client.get(f"{console.base()}/settings").status_code == 404
    token = console.csrf(client, "/console/p/globex/settings")
    answer = client.post(f"{console.base()}/settings", data={"csrf_token": token})
    assert answer.status_code == 404
    assert current(console).policy.session_minutes == 45


def test_a_post_without_the_csrf_token_changes_nothing(console):
    client = console.client("admin")
    page = client.get(f"{console.base()}/settings").get_data(as_text=True)
    data = {**form_of(page), "session_minutes": "90"}
    data.pop("csrf_token", None)
    answer = client.post(f"{console.base()}/settings", data=data)
    assert answer.status_code == 400
    assert current(console).policy.session_minutes == 45


def test_signed_out_people_are_sent_to_sign_in(console):
    answer = console.client().get(f"{console.base()}/settings")
    assert answer.status_code == 302 and "/console/sign-in" in answer.location


def test_program_ids_are_not_a_form_field(console):
    page = console.client("admin").get(f"{console.base()}/settings").get_data(as_text=True)
    assert str(uuid.UUID(int=0)) not in page and 'name="slug"' not in page
