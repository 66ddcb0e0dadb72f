"""Dockerfile, compose.yaml, .env.example and docs/production.md stay in step with the code.

No Docker daemon runs in CI, so the images are not built here; instead every command,
option, port, route and variable those files name is checked against the real CLI,
routes and settings, and a filled-in .env.example must start in production mode.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from cryptography.fernet import Fernet

from core.cli import main
from core.config import Settings, load_settings
from core.errors import ConfigError
from integrations.slack.settings import SlackSettings
from integrations.teams.settings import TeamsSettings
from lms.sync.settings import SyncSettings

ROOT = Path(__file__).resolve().parents[2]
PEERLINE_SERVICES = ("migrate", "app", "worker")
COMPOSE_ONLY = {"POSTGRES_PASSWORD"}
REQUIRED = ("PEERLINE_SECRET_KEY", "PEERLINE_ENCRYPTION_KEYS", "PEERLINE_PUBLIC_URL")


def compose() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "compose.yaml").read_text()))


def dockerfile_cmd() -> list[str]:
    line = next(
        ln for ln in (ROOT / "Dockerfile").read_text().splitlines() if ln.startswith("CMD ")
    )
    return list(json.loads(line.removeprefix("CMD ")))


def known_variables() -> set[str]:
    names = {f"PEERLINE_{name.upper()}" for name in Settings.model_fields}
    for kind in (SlackSettings, TeamsSettings, SyncSettings):
        prefix = str(kind.model_config.get("env_prefix", ""))
        names |= {f"{prefix}{name}".upper() for name in kind.model_fields}
    return names | COMPOSE_ONLY


def env_example() -> dict[str, str]:
    """Every NAME=value in .env.example, commented-out ones included (value '' then)."""
    found: dict[str, str] = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        match = re.match(r"^(#\s*)?([A-Z][A-Z0-9_]+)=(.*)$", line)
        if match:
            found[match.group(2)] = "" if match.group(1) else match.group(3)
    return found


def parse_command(argv: list[str]) -> click.Context:
    """Parse `peerline …` as the CLI would, without running it; unknown options raise."""
    assert argv[0] == "peerline", argv
    command: click.Command = main
    words = argv[1:]
    while isinstance(command, click.Group):
        found = command.get_command(click.Context(command), words[0])
        assert found is not None, f"no command {words[0]!r} in {argv}"
        command, words = found, words[1:]
    return command.make_context(command.name or "", list(words))


def test_compose_runs_migrations_then_the_app_and_the_worker_on_postgres_and_redis():
    services = compose()["services"]
    assert set(services) == {"postgres", "redis", *PEERLINE_SERVICES}
    for name in PEERLINE_SERVICES:
        service = services[name]
        assert service["build"] == "." and service["image"] == "peerline:latest"
        env = service["environment"]
        assert env["PEERLINE_ENV"] == "production"
        assert env["PEERLINE_DATABASE_URL"].startswith("postgresql+psycopg://peerline:")
        assert env["PEERLINE_DATABASE_URL"].endswith("@postgres:5432/peerline")
        assert env["PEERLINE_REDIS_URL"] == "redis://redis:6379/0"
        parse_command(service["command"])
    assert services["migrate"]["command"] == ["peerline", "db", "upgrade"]
    for name in ("app", "worker"):
        after = services[name]["depends_on"]["migrate"]["condition"]
        assert after == "service_completed_successfully"
    assert services["worker"]["command"][:2] == ["peerline", "worker"]


def test_the_app_listens_where_the_image_and_compose_say():
    serve = parse_command(dockerfile_cmd())
    app = parse_command(compose()["services"]["app"]["command"])
    assert serve.params["host"] == app.params["host"] == "0.0.0.0"  # noqa: S104 (in a container)
    port = serve.params["port"]
    assert app.params["port"] == port
    assert f"EXPOSE {port}" in (ROOT / "Dockerfile").read_text()
    assert compose()["services"]["app"]["ports"] == [f"127.0.0.1:{port}:{port}"]  # proxy only


def test_the_image_health_check_asks_a_route_that_exists(app):
    health = re.search(r"http://127\.0\.0\.1:(\d+)(/\w+)", (ROOT / "Dockerfile").read_text())
    assert health is not None
    assert int(health.group(1)) == parse_command(dockerfile_cmd()).params["port"]
    assert app.test_client().get(health.group(2)).status_code == 200


def test_every_variable_in_the_example_env_is_a_real_setting():
    unknown = set(env_example()) - known_variables()
    assert unknown == set(), f"not read by PeerLine: {sorted(unknown)}"
    for service in PEERLINE_SERVICES:
        named = set(compose()["services"][service]["environment"])
        assert named <= known_variables()


def filled_in(values: dict[str, str]) -> dict[str, str]:
    """The example with its placeholders replaced, as an operator would."""
    done = {k: v for k, v in values.items() if v}
    done["PEERLINE_SECRET_KEY"] = "s" * 48
    done["PEERLINE_ENCRYPTION_KEYS"] = Fernet.generate_key().decode()
    return done


def production_env(values: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in known_variables() if n.startswith("PEERLINE_")]:
        monkeypatch.delenv(name, raising=False)
    environment = compose()["services"]["app"]["environment"]
    password = values["POSTGRES_PASSWORD"]
    for name, value in {**values, **environment}.items():
        value = re.sub(r"\$\{POSTGRES_PASSWORD:\?[^}]*\}", password, str(value))
        monkeypatch.setenv(name, value)


def test_a_filled_in_example_starts_in_production(monkeypatch):
    example = env_example()
    for name in (*REQUIRED, "POSTGRES_PASSWORD"):
        assert example.get(name), f"{name} must be set (uncommented) in .env.example"
    production_env(filled_in(example), monkeypatch)
    settings = load_settings()
    assert settings.env == "production"
    assert settings.redis_url == "redis://redis:6379/0" and settings.trust_proxy_hops == 1


def test_an_example_left_unfilled_refuses_to_start_and_says_which_variable(monkeypatch):
    production_env(env_example(), monkeypatch)
    with pytest.raises(ConfigError, match="PEERLINE_ENCRYPTION_KEYS"):
        load_settings()


def test_the_production_guide_names_every_command_and_required_variable():
    guide = (ROOT / "docs" / "production.md").read_text()
    for service in PEERLINE_SERVICES:
        command = " ".join(compose()["services"][service]["command"][:2])
        assert command in guide, command
    for needed in (*REQUIRED, "PEERLINE_DATABASE_URL", "PEERLINE_REDIS_URL", "/readyz"):
        assert needed in guide, needed
    for command in ("peerline keys rotate", "peerline db upgrade", "pg_dump", "/metrics"):
        assert command in guide, command
