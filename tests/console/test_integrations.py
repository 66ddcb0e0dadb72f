"""The integrations page: delivery health, retrying dead letters, and the plugins' panels."""

from __future__ import annotations

import io
import json
import os
import uuid
import zipfile

import pytest
from sqlalchemy import select

from core.models import AuditEvent, Delivery
from core.runtime import runtime
from core.services import programs
from integrations.slack import workspaces
from integrations.slack.plugin import init_app as slack_plugin
from integrations.teams.plugin import init_app as teams_plugin
from lms.lti import platforms
from lms.plugin import init_app as lms_plugin
from tests.conftest import make_app
from tests.console.conftest import Console, add_accounts
from tests.helpers import EVERY_WEEKDAY, make_world, system_ctx

SLACK_SECRET = "slack-client-secret-never-shown"
TEAMS_PASSWORD = "teams-password-never-shown"
CANVAS_SECRET = "canvas-secret-never-shown"


def add_delivery(console, status: str = "dead", program_slug: str = "acme", **fields) -> uuid.UUID:
    """A message as the outbox leaves it (here written directly, as the worker would)."""
    ctx = system_ctx(console.app)
    with ctx.session:
        program = programs.get_program(ctx, program_slug)
        row = Delivery(
            dedupe_key=f"test:{uuid.uuid4()}",
            program_id=program.id,
            audience=fields.pop("audience", "supporter"),
            kind=fields.pop("kind", "offer"),
            request_id=uuid.uuid4(),
            supporter_id=uuid.UUID(console.world.supporters["Ash"]["id"]),
            data={"topic": "bereavement-topic-secret"},
            status=status,
            channel="email",
            attempts=8,
            next_attempt_at=ctx.now,
            last_error="SMTP 535 authentication failed",
            created_at=ctx.now,
            finished_at=ctx.now,
            **fields,
        )
        ctx.session.add(row)
        ctx.session.commit()
        return row.id


def delivery(console, delivery_id: uuid.UUID) -> Delivery:
    with system_ctx(console.app).session as session:
        found = session.get(Delivery, delivery_id)
        assert found is not None
        return found


def path(console, delivery_id: uuid.UUID) -> str:
    return f"{console.base()}/integrations/deliveries/{delivery_id}/retry"


def test_admin_sees_delivery_counts_and_dead_letters_without_request_details(console):
    dead = add_delivery(console)
    add_delivery(console, status="sent")
    page = console.client("admin").get(f"{console.base()}/integrations")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Failed (dead letters)" in text and '<span class="badge bad">1</span>' in text
    assert "SMTP 535 authentication failed" in text and "offer" in text
    alias = console.world.supporters["Ash"]["alias"]
    assert alias in text and "email" in text
    assert "bereavement-topic-secret" not in text  # nothing about the request
    with system_ctx(console.app).session as session:
        request_id = session.get(Delivery, dead).request_id
    assert str(request_id) not in text
    assert "No app plugins" in text


def test_retrying_a_dead_letter_sends_it_again_and_is_audited(console):
    dead = add_delivery(console)
    client = console.client("admin")
    answer = console.post(client, path(console, dead), form_page=f"{console.base()}/integrations")
    assert answer.status_code == 302
    assert "will be sent again" in client.get(answer.location).get_data(as_text=True)
    again = delivery(console, dead)
    assert again.status == "pending" and again.attempts == 0 and again.last_error is None
    with system_ctx(console.app).session as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "delivery.retried"))
    assert event is not None and event.actor_role == "admin"
    assert "No dead letters" in client.get(f"{console.base()}/integrations").get_data(as_text=True)


def test_retrying_a_message_that_is_not_dead_says_so(console):
    sent = add_delivery(console, status="sent")
    client = console.client("admin")
    answer = console.post(client, path(console, sent), form_page=f"{console.base()}/integrations")
    assert answer.status_code == 302
    assert "Not retried" in client.get(answer.location).get_data(as_text=True)
    assert delivery(console, sent).status == "sent"


def test_retry_without_csrf_changes_nothing(console):
    dead = add_delivery(console)
    answer = console.client("admin").post(path(console, dead), data={})
    assert answer.status_code == 400
    assert delivery(console, dead).status == "dead"


def test_only_admins_open_integrations(console):
    dead = add_delivery(console)
    for role in ("coordinator", "supporter"):
        client = console.client(role)
        assert client.get(f"{console.base()}/integrations").status_code == 403
        answer = console.post(client, path(console, dead), form_page=f"{console.base()}/")
        assert answer.status_code == 403
    assert delivery(console, dead).status == "dead"


def test_another_programs_dead_letter_is_not_found(console):
    make_world(console.app, console.app.test_client(), slug="globex", name="Globex")
    theirs = add_delivery(console, program_slug="globex")
    client = console.client("operator")  # a deployment admin may open both programs
    answer = console.post(client, path(console, theirs), form_page=f"{console.base()}/integrations")
    assert answer.status_code == 404
    assert delivery(console, theirs).status == "dead"
    answer = console.post(
        console.client("admin"), path(console, uuid.uuid4()), form_page=f"{console.base()}/"
    )
    assert answer.status_code == 404


@pytest.fixture
def with_plugins(database_url, tmp_path, clock, monkeypatch):
    """The console with Slack (OAuth installs), Teams and the LMS plugin installed."""
    console = plugin_console(database_url, tmp_path, clock, monkeypatch, "https://peer.example.org")
    yield console
    runtime(console.app).engine.dispose()


def plugin_console(database_url, tmp_path, clock, monkeypatch, public_url):
    for name in [n for n in os.environ if n.startswith(("SLACK_", "TEAMS_", "LMS_"))]:
        monkeypatch.delenv(name)
    settings = {
        "SLACK_CLIENT_ID": "1111.2222",
        "SLACK_CLIENT_SECRET": SLACK_SECRET,
        "SLACK_SIGNING_SECRET": "signing-secret-never-shown",
        "SLACK_API_URL": "http://127.0.0.1:9/api/",
        "TEAMS_APP_ID": "bot-app-id-1",
        "TEAMS_APP_PASSWORD": TEAMS_PASSWORD,
        "TEAMS_TENANT_ID": "tenant-1",
        "LMS_CANVAS_URL": "https://canvas.example.edu",
        "LMS_CANVAS_CLIENT_ID": "10000000000001",
        "LMS_CANVAS_CLIENT_SECRET": CANVAS_SECRET,
        "LMS_CANVAS_COURSE": "42",
        "LMS_CANVAS_PROGRAM": "acme",
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    plugins = [("slack", slack_plugin), ("teams", teams_plugin), ("lms", lms_plugin)]
    app = make_app(database_url, tmp_path, clock, plugins=plugins, public_url=public_url)
    world = make_world(app, app.test_client())
    world.add_supporter("Ash", weekly=EVERY_WEEKDAY)
    add_accounts(app, world)
    return Console(app, world, clock)


def test_plugin_panels_show_how_to_install_and_what_is_connected(with_plugins):
    console = with_plugins
    current = runtime(console.app)
    workspaces.link(current, "T0ACME", "acme")
    platforms.register(
        current,
        platforms.Registration(
            program="acme",
            issuer="https://canvas.example.edu",
            client_id="10000000000099",
            auth_login_url="https://canvas.example.edu/api/lti/authorize_redirect",
            auth_token_url="https://canvas.example.edu/login/oauth2/token",
            jwks_url="https://canvas.example.edu/api/lti/security/jwks",
            deployments=("1:abc",),
            product="canvas",
        ),
    )
    page = console.client("admin").get(f"{console.base()}/integrations")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Slack" in text and 'href="/slack/install">Add to Slack' in text and "T0ACME" in text
    assert "Microsoft Teams" in text and "bot-app-id-1" in text
    assert "https://peer.example.org/api/messages" in text
    assert f'href="{console.base()}/integrations/download/teams-app">Download the Teams app' in text
    for url in ("login", "launch", "jwks", "register"):
        assert f"https://peer.example.org/lti/{url}" in text
    assert "client 10000000000099, 1 deployment(s)" in text
    assert "Canvas calendar" in text and "Not connected" in text
    assert "Moodle calendar" in text and "Not configured" in text
    for secret in (SLACK_SECRET, TEAMS_PASSWORD, CANVAS_SECRET, "signing-secret-never-shown"):
        assert secret not in text


def test_platforms_of_other_programs_are_not_listed(with_plugins):
    console = with_plugins
    current = runtime(console.app)
    make_world(console.app, console.app.test_client(), slug="campus", name="Campus", kind="school")
    platforms.register(
        current,
        platforms.Registration(
            program="campus",
            issuer="https://moodle.example.edu",
            client_id="other-client",
            auth_login_url="https://moodle.example.edu/mod/lti/auth.php",
            auth_token_url="https://moodle.example.edu/mod/lti/token.php",
            jwks_url="https://moodle.example.edu/mod/lti/certs.php",
        ),
    )
    text = console.client("admin").get(f"{console.base()}/integrations").get_data(as_text=True)
    assert "moodle.example.edu" not in text and "Platforms registered" in text
    assert "None yet" in text


def test_admin_downloads_the_teams_app_package_for_this_service(with_plugins):
    console = with_plugins
    answer = console.client("admin").get(f"{console.base()}/integrations/download/teams-app")
    assert answer.status_code == 200 and answer.mimetype == "application/zip"
    assert 'filename="peerline-teams.zip"' in answer.headers["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(answer.get_data())) as archive:
        assert sorted(archive.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(archive.read("manifest.json"))
    assert manifest["bots"][0]["botId"] == "bot-app-id-1"
    assert manifest["bots"][0]["scopes"] == ["personal"]
    assert manifest["validDomains"] == ["peer.example.org"]
    assert TEAMS_PASSWORD.encode() not in answer.get_data()


def test_only_admins_download_and_unknown_files_are_not_found(with_plugins):
    console = with_plugins
    where = f"{console.base()}/integrations/download"
    assert console.client("coordinator").get(f"{where}/teams-app").status_code == 403
    assert console.client("admin").get(f"{where}/slack-app").status_code == 404
    anonymous = console.app.test_client().get(f"{where}/teams-app")
    assert anonymous.status_code == 302 and "/console/sign-in" in anonymous.location


def test_without_an_https_address_the_package_is_refused_with_the_reason(
    database_url, tmp_path, clock, monkeypatch
):
    console = plugin_console(database_url, tmp_path, clock, monkeypatch, None)
    try:
        client = console.client("admin")
        answer = client.get(f"{console.base()}/integrations/download/teams-app")
        assert answer.status_code == 302
        page = client.get(answer.location).get_data(as_text=True)
        assert "Not downloaded: PEERLINE_PUBLIC_URL must be this service" in page
    finally:
        runtime(console.app).engine.dispose()
