"""The set-up contract, as a person runs it: `peerline demo` and `peerline serve` as processes."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time

import requests
from cryptography.fernet import Fernet

from tests.helpers import request_body
from tests.processes import clean_env, free_port, running, wait_until_up


def test_demo_serves_seeded_data_and_prints_working_tokens(tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with running(["demo", "--port", str(port)], clean_env(tmp_path), tmp_path) as process:
        wait_until_up(base, process)
        banner = ""
        assert process.stdout is not None
        while "deployment admin" not in banner:
            banner += process.stdout.readline()
        assert f"{base}/api/v1/docs" in banner
        admin = re.search(r"admin of acme\s+(plt_\S+)", banner)
        assert admin, banner
        roster = requests.get(
            f"{base}/api/v1/supporters?program=acme",
            timeout=5,
            headers={"Authorization": f"Bearer {admin.group(1)}"},
        )
        assert roster.status_code == 200 and len(roster.json()) >= 5
        made = requests.post(
            f"{base}/api/v1/requests",
            timeout=5,
            json=request_body(),
        )
        assert made.status_code == 201 and made.json()["status"] == "offered", made.json()
        mail = tmp_path / "instance" / "mail"
        deadline = time.monotonic() + 30
        while not list(mail.glob("*offer_made*.eml")) and time.monotonic() < deadline:
            time.sleep(0.1)  # the demo's own worker sends in the background
        [offer, *_] = sorted(mail.glob("*offer_made*.eml"))
        assert "Subject: New peer chat request" in offer.read_text()
        assert requests.get(f"{base}/readyz", timeout=5).status_code == 200
        password = re.search(r"each with the password (\S+)", banner)
        assert password and f"{base}/console/" in banner, banner
        with requests.Session() as browser:
            form = browser.get(f"{base}/console/sign-in", timeout=5).text
            [csrf] = re.findall(r'name="csrf_token" value="([^"]+)"', form)
            signed = browser.post(
                f"{base}/console/sign-in",
                data={"csrf_token": csrf, "email": "admin@acme.example", "password": password[1]},
                timeout=5,
            )
            assert signed.status_code == 200 and "Acme Corp Peer Support" in signed.text


def test_serve_runs_gunicorn_in_production_mode(tmp_path):
    port = free_port()
    database = f"sqlite:///{tmp_path / 'prod.sqlite3'}"
    env = clean_env(
        tmp_path,
        PEERLINE_ENV="production",
        PEERLINE_DATABASE_URL=database,
        PEERLINE_SECRET_KEY="x" * 40,
        PEERLINE_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
    )
    upgrade = subprocess.run(
        [sys.executable, "-m", "core.cli", "db", "upgrade"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert upgrade.returncode == 0, upgrade.stderr
    assert "database at revision" in upgrade.stdout
    with running(["serve", "--port", str(port), "--workers", "1"], env, tmp_path) as process:
        base = f"http://127.0.0.1:{port}"
        wait_until_up(base, process)
        assert requests.get(f"{base}/readyz", timeout=5).json()["status"] == "ready"
        assert requests.get(f"{base}/api/v1/openapi.json", timeout=5).status_code == 200


def test_serve_refuses_to_start_without_production_settings(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "core.cli", "serve"],
        env=clean_env(tmp_path, PEERLINE_ENV="production"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "PEERLINE_SECRET_KEY" in result.stderr and "Traceback" not in result.stderr


def test_a_busy_port_gets_a_clear_message(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "core.cli", "demo", "--port", str(port)],
            env=clean_env(tmp_path),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr and "--port" in result.stderr
    assert "Traceback" not in result.stderr
