"""Liveness and readiness, as a load balancer or orchestrator sees them."""

from __future__ import annotations

from core import create_app, migrations
from core.runtime import runtime


def _app(url, tmp_path, clock):
    return create_app(
        {"database_url": url, "env": "testing", "instance_path": tmp_path}, clock=clock, plugins=[]
    )


def test_ready_only_once_migrations_have_run(database_url, tmp_path, clock):
    app = _app(database_url, tmp_path, clock)
    client = app.test_client()
    assert client.get("/healthz").json == {"status": "ok"}
    pending = client.get("/readyz")
    assert pending.status_code == 503 and pending.json["database"] == "migrations pending"
    migrations.upgrade(runtime(app).engine)
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json == {"status": "ready", "database": "ok", "queue": "ok"}
    runtime(app).engine.dispose()


def test_unreachable_database_is_not_ready_but_still_alive(tmp_path, clock):
    app = _app("postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=2", tmp_path, clock)
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    response = client.get("/readyz")
    assert response.status_code == 503 and response.json["database"] == "unreachable"
    assert "nobody" not in response.get_data(as_text=True), "no connection details leak"
