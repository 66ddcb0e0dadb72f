"""The operator's console: tokens, sweep and key rotation."""

from __future__ import annotations

from cryptography.fernet import Fernet
from sqlalchemy import select

from core import create_app
from core.cli import main
from core.models import Base, RequesterIdentity
from core.runtime import runtime
from core.services import identities
from tests.helpers import EVERY_WEEKDAY, auth, make_world, request_body, system_ctx


def test_tokens_create_prints_a_working_token(app, client):
    make_world(app, client)
    runner = app.test_cli_runner()
    result = runner.invoke(main, ["tokens", "create", "--role", "coordinator", "--program", "acme"])
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    assert token.startswith("plt_")
    assert client.get("/api/v1/supporters?program=acme", headers=auth(token)).status_code == 200
    refused = runner.invoke(main, ["tokens", "create", "--role", "supporter", "--program", "acme"])
    assert refused.exit_code == 1 and "needs a supporter" in refused.output
    unknown = runner.invoke(main, ["tokens", "create", "--role", "admin", "--program", "nope"])
    assert unknown.exit_code == 1 and "no program 'nope'" in unknown.output


def test_sweep_expires_offers_and_reports_counts(app, client, clock):
    world = make_world(app, client, policy={"offer_timeout_minutes": 5})
    world.add_supporter("Ash", weekly=EVERY_WEEKDAY)
    client.post(
        "/api/v1/requests",
        json=request_body(),
    )
    clock.advance(minutes=6)
    result = app.test_cli_runner().invoke(main, ["sweep"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("1 offers expired")


def test_keys_rotate_reencrypts_identities_under_the_newest_key(tmp_path, clock):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    url = f"sqlite:///{tmp_path / 'keys.sqlite3'}"
    settings = {
        "database_url": url,
        "env": "testing",
        "instance_path": tmp_path,
        "secret_key": "k" * 40,
    }
    before = create_app({**settings, "encryption_keys": old}, clock=clock, plugins=[])
    Base.metadata.create_all(runtime(before).engine)
    world = make_world(before, before.test_client())
    made = (
        before.test_client()
        .post(
            "/api/v1/requests",
            headers=auth(world.service),
            json=request_body(
                urgency="scheduled", requester={"platform": "teams", "subject": "aad-42"}
            ),
        )
        .json
    )
    after = create_app({**settings, "encryption_keys": f"{new},{old}"}, clock=clock, plugins=[])
    result = after.test_cli_runner().invoke(main, ["keys", "rotate"])
    assert result.exit_code == 0 and result.output.startswith("1 identities"), result.output
    only_new = create_app({**settings, "encryption_keys": new}, clock=clock, plugins=[])
    ctx = system_ctx(only_new)
    with ctx.session:
        import uuid

        assert identities.identity_of(ctx, uuid.UUID(made["id"])) == ("teams", "aad-42")
        row = ctx.session.scalars(select(RequesterIdentity)).one()
        assert b"aad-42" not in row.ciphertext
    for app in (before, after, only_new):
        runtime(app).engine.dispose()


def test_an_admin_issues_and_revokes_tokens_over_the_api(app, client):
    world = make_world(app, client)
    issued = client.post(
        "/api/v1/tokens?program=acme",
        headers=auth(world.admin),
        json={"role": "service", "name": "slack bridge"},
    )
    assert issued.status_code == 201, issued.json
    token = issued.json["token"]
    assert client.get("/api/v1/supporters?program=acme", headers=auth(token)).status_code == 200
    listed = client.get("/api/v1/tokens?program=acme", headers=auth(world.admin)).json
    assert all("token" not in t for t in listed), "secrets are shown once only"
    revoked = client.post(f"/api/v1/tokens/{issued.json['id']}/revoke", headers=auth(world.admin))
    assert revoked.status_code == 204
    after = client.get("/api/v1/supporters?program=acme", headers=auth(token))
    assert after.status_code == 401 and after.json["error"]["code"] == "unauthorized"


def test_tokens_revoke_at_the_console_stops_the_token(app, client):
    world = make_world(app, client)
    issued = client.post(
        "/api/v1/tokens?program=acme",
        headers=auth(world.admin),
        json={"role": "service", "name": "to be revoked"},
    ).json
    result = app.test_cli_runner().invoke(main, ["tokens", "revoke", issued["id"]])
    assert result.exit_code == 0 and result.output == "revoked\n"
    refused = client.get("/api/v1/supporters?program=acme", headers=auth(issued["token"]))
    assert refused.status_code == 401
    unknown = app.test_cli_runner().invoke(
        main, ["tokens", "revoke", "00000000-0000-0000-0000-000000000000"]
    )
    assert unknown.exit_code == 1 and "no such token" in unknown.output
