"""The Teams app package an admin uploads, and the TEAMS_* settings check."""

from __future__ import annotations

import json
import os
import struct
import zipfile

import pytest

from core.cli import main
from core.errors import ConfigError
from core.runtime import runtime
from integrations.teams.plugin import init_app
from integrations.teams.settings import load_teams_settings
from tests.conftest import make_app

APP_ID = "00000000-1111-2222-3333-444444444444"


@pytest.fixture(autouse=True)
def _no_outside_teams_settings(monkeypatch):
    for name in [n for n in os.environ if n.startswith("TEAMS_")]:
        monkeypatch.delenv(name)


@pytest.fixture
def app(database_url, tmp_path, clock):
    application = make_app(
        database_url,
        tmp_path,
        clock,
        plugins=[("teams", init_app)],
        public_url="https://peer.example.org",
    )
    yield application
    runtime(application).engine.dispose()


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_the_package_holds_a_personal_bot_manifest_and_both_icons(app, tmp_path):
    target = tmp_path / "teams.zip"
    result = app.test_cli_runner().invoke(
        main, ["teams", "manifest", "--app-id", APP_ID, "--output", str(target)]
    )
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(target) as archive:
        assert sorted(archive.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(archive.read("manifest.json"))
        assert png_size(archive.read("color.png")) == (192, 192)
        assert png_size(archive.read("outline.png")) == (32, 32)
    [bot] = manifest["bots"]
    assert bot["botId"] == APP_ID and bot["scopes"] == ["personal"], "1:1 chats only"
    assert manifest["validDomains"] == ["peer.example.org"]
    assert "Not a crisis service" in manifest["description"]["full"]
    assert manifest["icons"] == {"color": "color.png", "outline": "outline.png"}


def test_the_package_needs_an_app_id_and_an_https_url(app, tmp_path, monkeypatch):
    runner = app.test_cli_runner()
    missing = runner.invoke(main, ["teams", "manifest", "--output", str(tmp_path / "a.zip")])
    assert missing.exit_code != 0 and "TEAMS_APP_ID" in missing.output
    plain = runner.invoke(
        main, ["teams", "manifest", "--app-id", APP_ID, "--url", "http://peer.example.org"]
    )
    assert plain.exit_code != 0 and "https" in plain.output
    monkeypatch.setenv("TEAMS_APP_ID", APP_ID)
    from_env = runner.invoke(main, ["teams", "manifest", "--output", str(tmp_path / "b.zip")])
    assert from_env.exit_code == 0, from_env.output


def test_a_bad_openid_metadata_url_names_the_variable(monkeypatch):
    monkeypatch.setenv("TEAMS_OPENID_METADATA_URL", "http://evil.example.org/keys")
    with pytest.raises(ConfigError, match="TEAMS_OPENID_METADATA_URL"):
        load_teams_settings()
