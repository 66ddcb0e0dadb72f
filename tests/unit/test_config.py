import pytest
from cryptography.fernet import Fernet

from core.config import load_settings
from core.errors import ConfigError

GOOD_KEY = Fernet.generate_key().decode()
PRODUCTION = {
    "env": "production",
    "secret_key": "s" * 40,
    "encryption_keys": GOOD_KEY,
    "database_url": "postgresql+psycopg://db/peerline",
}


def test_production_names_every_missing_setting():
    with pytest.raises(ConfigError) as caught:
        load_settings({"env": "production"})
    message = caught.value.message
    for name in ("PEERLINE_SECRET_KEY", "PEERLINE_ENCRYPTION_KEYS", "PEERLINE_DATABASE_URL"):
        assert name in message


def test_production_with_everything_set_starts():
    settings = load_settings(PRODUCTION)
    assert settings.fernet_keys == [GOOD_KEY]


def test_short_secret_key_is_refused_in_production():
    with pytest.raises(ConfigError, match="PEERLINE_SECRET_KEY: must be at least 32"):
        load_settings({**PRODUCTION, "secret_key": "short"})


def test_malformed_encryption_key_is_named_but_never_echoed():
    with pytest.raises(ConfigError) as caught:
        load_settings({**PRODUCTION, "encryption_keys": f"{GOOD_KEY},not-a-real-key-value"})
    assert "PEERLINE_ENCRYPTION_KEYS" in caught.value.message
    assert "key 2" in caught.value.message
    assert "not-a-real-key-value" not in caught.value.message
    assert GOOD_KEY not in caught.value.message


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("database_url", "mysql://x/y", "PEERLINE_DATABASE_URL"),
        ("log_level", "LOUD", "PEERLINE_LOG_LEVEL"),
        ("public_url", "peerline.example", "PEERLINE_PUBLIC_URL"),
        ("env", "staging", "PEERLINE_ENV"),
    ],
)
def test_malformed_values_are_refused_in_any_mode(name, value, expected):
    with pytest.raises(ConfigError, match=expected):
        load_settings({name: value})


def test_environment_variables_are_read(monkeypatch):
    monkeypatch.setenv("PEERLINE_LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("PEERLINE_PUBLIC_URL", "https://peer.example.org/")
    settings = load_settings()
    assert settings.log_level == "DEBUG"
    assert settings.public_url == "https://peer.example.org"


def test_cli_reports_a_configuration_error_in_one_line(monkeypatch, tmp_path):
    from click.testing import CliRunner

    from core.cli import main

    monkeypatch.setenv("PEERLINE_ENV", "production")
    monkeypatch.setenv("PEERLINE_INSTANCE_PATH", str(tmp_path))
    result = CliRunner().invoke(main, ["tokens", "create", "--role", "admin"])
    assert result.exit_code == 2
    assert "configuration error: production mode needs PEERLINE_SECRET_KEY" in result.output
    assert "Traceback" not in result.output


def test_the_test_clock_is_refused_in_production(tmp_path):
    with pytest.raises(
        ConfigError, match="PEERLINE_TEST_CLOCK_FILE: only for PEERLINE_ENV=testing"
    ):
        load_settings({**PRODUCTION, "test_clock_file": str(tmp_path / "clock")})


def test_smtp_url_must_name_its_scheme_and_is_never_echoed():
    with pytest.raises(ConfigError) as caught:
        load_settings({"smtp_url": "mail.example.org:587?password=hunter22"})
    assert "PEERLINE_SMTP_URL" in caught.value.message
    assert "hunter22" not in caught.value.message


def test_offset_file_clock_moves_processes_forward(tmp_path):
    from datetime import UTC, datetime, timedelta

    from core.clock import OffsetFileClock

    clock = OffsetFileClock(tmp_path / "clock")
    before = datetime.now(UTC)
    assert before <= clock.now() < before + timedelta(minutes=1), "no file: wall time"
    (tmp_path / "clock").write_text("86400")
    assert clock.now() >= before + timedelta(days=1)
