"""Sign in with Microsoft on the console, through msal against a fake Entra ID on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from core.clock import FrozenClock
from core.console.session import COOKIE
from core.errors import ConfigError
from core.models import ConsoleAccount
from core.runtime import runtime
from core.services import accounts, programs
from integrations.teams.console_sign_in import EntraSignIn
from integrations.teams.plugin import init_app
from integrations.teams.settings import load_teams_settings
from tests.conftest import make_app
from tests.fakes.entra_sign_in import FakeEntraSignIn, Person
from tests.fakes.smtp import make_certificates
from tests.helpers import make_world, system_ctx

TENANT, CLIENT_ID, SECRET = "tenant-1", "console-app", "console-secret-never-shown"
ADA = Person(oid="oid-ada", email="ada@acme.test", name="Ada Lovelace")


@dataclass
class Site:
    """The console with Microsoft sign-in, the fake Entra ID, and a 'browser' for Microsoft."""

    app: Flask
    aad: FakeEntraSignIn
    microsoft: requests.Session

    def account(self, email: str = ADA.email, role: str = "admin") -> None:
        """An account an admin made, with no password: only single sign-on opens it."""
        ctx = system_ctx(self.app)
        with ctx.session:
            program = programs.get_program(ctx, "acme")
            accounts.create(ctx, email=email, role=role, display_name="Ada", program_id=program.id)
            ctx.session.commit()

    def linked(self, email: str) -> tuple[str | None, str | None]:
        with system_ctx(self.app).session as session:
            found = session.scalar(select(ConsoleAccount).where(ConsoleAccount.email == email))
            assert found is not None
            return found.external_issuer, found.external_subject

    def callback(self, client: FlaskClient, person: Person | None = ADA) -> str:
        """Press the button, then sign in at Microsoft: the path Microsoft sends us back to."""
        self.aad.person = person
        started = client.get("/console/sign-in/microsoft?next=/console/p/acme/")
        assert started.status_code == 302, started.get_data(as_text=True)
        at_microsoft = self.microsoft.get(started.headers["Location"], allow_redirects=False)
        assert at_microsoft.status_code == 302, at_microsoft.text
        back = urlsplit(at_microsoft.headers["Location"])
        assert (back.scheme, back.netloc) == ("http", "localhost")
        return f"{back.path}?{back.query}"

    def sign_in(self, client: FlaskClient, person: Person | None = ADA) -> TestResponse:
        return client.get(self.callback(client, person))


def signed_in(client: FlaskClient) -> bool:
    return client.get_cookie(COOKIE, path="/console") is not None


@pytest.fixture
def site(database_url: str, tmp_path: Path, clock: FrozenClock) -> Iterator[Site]:
    certificates = make_certificates(tmp_path / "tls")
    with (
        FakeEntraSignIn(
            tenant_id=TENANT,
            client_id=CLIENT_ID,
            client_secret=SECRET,
            certificates=certificates,
            now=clock.now,
        ) as aad,
        requests.Session() as session,
    ):
        session.trust_env = False
        session.verify = str(certificates.ca_file)
        app = console_app(database_url, tmp_path, clock, aad.url, session)
        try:
            yield Site(app, aad, session)
        finally:
            runtime(app).engine.dispose()


def console_app(
    database_url: str,
    tmp_path: Path,
    clock: FrozenClock,
    authority_host: str,
    session: requests.Session,
    secret: str = SECRET,
    world: bool = True,
) -> Flask:
    """The app with the Teams plugin's sign-in registered as init_app does, at the fake."""

    def hook(host):
        host.add_sign_in(
            EntraSignIn(
                client_id=CLIENT_ID,
                client_secret=secret,
                tenant_id=TENANT,
                now=host.runtime.clock.now,
                authority_host=authority_host,
                http_client=session,
            )
        )

    app = make_app(database_url, tmp_path, clock, plugins=[("teams-test", hook)])
    if world:
        make_world(app, app.test_client())
    return app


def test_the_sign_in_page_offers_microsoft(site: Site) -> None:
    page = site.app.test_client().get("/console/sign-in").get_data(as_text=True)
    assert "Sign in with Microsoft" in page
    assert 'href="/console/sign-in/microsoft' in page


def test_first_sign_in_links_the_account_with_that_email(site: Site) -> None:
    site.account()
    client = site.app.test_client()
    done = site.sign_in(client)
    assert done.status_code == 302
    assert done.headers["Location"] == "/console/p/acme/"
    assert signed_in(client)
    page = client.get("/console/p/acme/")
    assert page.status_code == 200 and "Ada · admin" in page.get_data(as_text=True)
    assert site.linked(ADA.email) == (f"entra:{TENANT}", ADA.oid)
    [asked] = site.aad.authorize_requests
    assert asked["prompt"] == "select_account" and "openid" in asked["scope"].split()


def test_later_sign_ins_match_the_person_not_the_email(site: Site) -> None:
    site.account()
    assert site.sign_in(site.app.test_client()).status_code == 302
    renamed = Person(oid=ADA.oid, email="ada.king@acme.test", name="Ada King")
    client = site.app.test_client()
    assert site.sign_in(client, renamed).status_code == 302
    assert "Ada · admin" in client.get("/console/p/acme/").get_data(as_text=True)
    impostor = Person(oid="oid-someone-else", email=ADA.email)
    other = site.app.test_client()
    refused = site.sign_in(other, impostor)
    assert refused.status_code == 401 and not signed_in(other)


def test_someone_without_an_account_is_told_so(site: Site) -> None:
    client = site.app.test_client()
    refused = site.sign_in(client, Person(oid="oid-stranger", email="stranger@acme.test"))
    assert refused.status_code == 401
    assert "no PeerLine account" in refused.get_data(as_text=True)
    assert not signed_in(client)


def test_a_person_from_another_tenant_is_refused(site: Site) -> None:
    site.account()
    client = site.app.test_client()
    refused = site.sign_in(client, Person(oid="oid-x", email=ADA.email, tid="other-tenant"))
    assert refused.status_code == 401
    assert "belongs to another organisation" in refused.get_data(as_text=True)
    assert not signed_in(client)
    assert site.linked(ADA.email) == (None, None)


def test_a_changed_state_is_refused(site: Site) -> None:
    site.account()
    client = site.app.test_client()
    path = site.callback(client)
    query = {key: values[0] for key, values in parse_qs(urlsplit(path).query).items()}
    forged = client.get("/console/sign-in/microsoft/done", query_string={**query, "state": "x"})
    assert forged.status_code == 401
    assert "does not belong to the sign-in you started" in forged.get_data(as_text=True)
    assert not signed_in(client)


def test_a_replayed_answer_signs_no_one_in(site: Site) -> None:
    site.account()
    client = site.app.test_client()
    path = site.callback(client)
    assert client.get(path).status_code == 302
    again = client.get(path)
    assert again.status_code == 400 and "expired or started elsewhere" in again.text
    stranger = site.app.test_client()  # someone else's browser, holding the stolen answer
    stolen = stranger.get(path)
    assert stolen.status_code == 400 and not signed_in(stranger)


def test_an_answer_for_another_sign_in_is_refused(site: Site) -> None:
    site.account()
    victim, attacker = site.app.test_client(), site.app.test_client()
    path = site.callback(attacker)  # the attacker's own answer, pressed into the victim's browser
    site.callback(victim)
    refused = victim.get(path)
    assert refused.status_code == 401 and not signed_in(victim)


def test_cancelling_at_microsoft_shows_a_clear_page(site: Site) -> None:
    site.account()
    site.aad.refuse = "access_denied"
    client = site.app.test_client()
    refused = site.sign_in(client)
    page = refused.get_data(as_text=True)
    assert refused.status_code == 401
    assert "cancelled or not allowed" in page and "AADSTS" not in page
    assert not signed_in(client)


def test_an_expired_id_token_is_refused(site: Site, clock: FrozenClock) -> None:
    site.account()
    site.aad.now = lambda: clock.now() - timedelta(hours=2)
    client = site.app.test_client()
    refused = site.sign_in(client)
    assert refused.status_code == 401 and not signed_in(client)
    assert "Microsoft did not sign you in" in refused.get_data(as_text=True)


def test_a_wrong_client_secret_is_explained_without_showing_it(
    site: Site, database_url: str, tmp_path: Path, clock: FrozenClock
) -> None:
    site.account()
    wrong = "wrong-secret-value"
    app = console_app(
        database_url, tmp_path / "wrong", clock, site.aad.url, site.microsoft, wrong, world=False
    )
    try:
        client = app.test_client()
        refused = Site(app, site.aad, site.microsoft).sign_in(client)
        page = refused.get_data(as_text=True)
        assert refused.status_code == 401 and "not set up correctly" in page
        assert wrong not in page and "AADSTS" not in page and not signed_in(client)
    finally:
        runtime(app).engine.dispose()


def test_microsoft_unreachable_at_the_start_is_a_clear_page(
    database_url: str, tmp_path: Path, clock: FrozenClock
) -> None:
    with requests.Session() as session:
        session.trust_env = False
        app = console_app(database_url, tmp_path, clock, "https://127.0.0.1:9", session)
        try:
            page = app.test_client().get("/console/sign-in/microsoft")
            assert page.status_code == 503
            assert "not available just now" in page.get_data(as_text=True)
        finally:
            runtime(app).engine.dispose()


def test_unknown_sign_in_method_is_not_found(site: Site) -> None:
    assert site.app.test_client().get("/console/sign-in/google").status_code == 404


def test_the_plugin_offers_it_only_when_configured(
    database_url: str, tmp_path: Path, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    plugins = [("teams", init_app)]
    plain = make_app(database_url, tmp_path / "off", clock, plugins=plugins)
    assert "Sign in with Microsoft" not in plain.test_client().get("/console/sign-in").text
    runtime(plain).engine.dispose()
    monkeypatch.setenv("TEAMS_TENANT_ID", TENANT)
    monkeypatch.setenv("TEAMS_CONSOLE_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("TEAMS_CONSOLE_CLIENT_SECRET", SECRET)
    on = make_app(database_url, tmp_path / "on", clock, plugins=plugins)
    try:
        assert "Sign in with Microsoft" in on.test_client().get("/console/sign-in").text
        assert isinstance(runtime(on).sign_in_methods["microsoft"], EntraSignIn)
    finally:
        runtime(on).engine.dispose()


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"console_client_id": CLIENT_ID, "tenant_id": TENANT}, "TEAMS_CONSOLE_CLIENT_SECRET"),
        ({"console_client_secret": SECRET, "tenant_id": TENANT}, "TEAMS_CONSOLE_CLIENT_ID"),
        ({"console_client_id": CLIENT_ID, "console_client_secret": SECRET}, "TEAMS_TENANT_ID"),
        (
            {
                "console_client_id": CLIENT_ID,
                "console_client_secret": SECRET,
                "tenant_id": "common",
            },
            "TEAMS_TENANT_ID",
        ),
    ],
)
def test_half_a_setup_fails_naming_the_variable(settings: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_teams_settings(settings)
    assert named in str(refused.value) and SECRET not in str(refused.value)
