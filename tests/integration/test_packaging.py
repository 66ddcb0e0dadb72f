"""An installed copy (a wheel, as in the Docker image) holds every module and template."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def build_wheel(into: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(into), str(ROOT)],
        check=True,
        capture_output=True,
        text=True,
    )  # fmt: skip
    [wheel] = into.glob("peerline-*.whl")
    return wheel


def tracked_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "core", "integrations", "lms"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return listed.stdout.split()


def test_the_wheel_holds_every_file_of_the_three_packages(tmp_path):
    wheel = build_wheel(tmp_path / "dist")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = archive.read(
            next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        ).decode()
    missing = [f for f in tracked_files() if f not in names]
    assert missing == [], f"left out of an installed copy: {missing}"
    assert not any(n.startswith(("tests/", "bench/")) for n in names)
    for plugin in ("slack = integrations.slack.plugin:init_app", "lms = lms.plugin:init_app"):
        assert plugin in entry_points


def test_the_installed_copy_serves_the_console_and_the_student_pages(tmp_path):
    wheel = build_wheel(tmp_path / "dist")
    unpacked = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(unpacked)
    script = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "import core\n"
        "assert core.__file__.startswith(sys.argv[1]), core.__file__\n"
        "from core import create_app\n"
        "from core.migrations import upgrade\n"
        "from core.runtime import runtime\n"
        "app = create_app({'database_url': 'sqlite:///' + sys.argv[2] + '/p.sqlite3',\n"
        "                  'env': 'development', 'instance_path': sys.argv[2]})\n"
        "upgrade(runtime(app).engine)\n"
        "client = app.test_client()\n"
        "for path in ('/console/sign-in', '/console/static/console.css', '/api/v1/openapi.json'):\n"
        "    answer = client.get(path)\n"
        "    print(path, answer.status_code)\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", script, str(unpacked), str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert ran.stdout.split("\n")[:3] == [
        "/console/sign-in 200",
        "/console/static/console.css 200",
        "/api/v1/openapi.json 200",
    ]
