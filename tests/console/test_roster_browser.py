"""The roster in real headless Chromium: add a supporter, then a CSV import with a bad row."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.browser import needs_chromium
from tests.console.conftest import EMAILS, PASSWORD

pytestmark = needs_chromium

GOOD = "alias,time_zone,languages,topics\nFern,Europe/London,en,stress\n"
CSV = GOOD + "Gorse,Europe/London,en,astrology\n"


def sign_in(page: Any, live: str) -> None:
    page.goto(f"{live}/console/p/acme/roster")
    page.get_by_label("E-mail address").fill(EMAILS["admin"])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")
    page.get_by_role("heading", name="Roster", exact=True).wait_for()


def test_add_supporter_then_import_with_a_bad_row(browser: Any, live: str, shots: Path) -> None:
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    sign_in(page, live)
    page.screenshot(path=shots / "roster.png", full_page=True)
    page.get_by_role("link", name="Add supporter").click()
    page.get_by_label("Alias").fill("Cedar")
    page.get_by_label("es", exact=True).check()
    page.get_by_label("grief").check()
    page.get_by_label("Most sessions per week (optional)").fill("4")
    page.get_by_label("E-mail addresses").fill("cedar@acme.test")
    page.get_by_role("button", name="Add supporter").click()
    page.get_by_text("Cedar was added to the roster.").wait_for()
    page.screenshot(path=shots / "added.png", full_page=True)
    page.get_by_role("link", name="← Roster").click()
    assert page.get_by_role("link", name="Cedar").is_visible()
    page.get_by_role("link", name="Import CSV").click()
    page.get_by_label("CSV file").set_input_files(
        files=[{"name": "roster.csv", "mimeType": "text/csv", "buffer": CSV.encode()}]
    )
    page.get_by_role("button", name="Preview").click()
    page.get_by_role("heading", name="Problems in the file").wait_for()
    row = page.get_by_role("row").filter(has_text="astrology")
    assert row.get_by_role("cell").first.inner_text() == "3"
    assert "topics" in row.inner_text()
    page.screenshot(path=shots / "import-errors.png", full_page=True)
    page.get_by_label("CSV file").set_input_files(
        files=[{"name": "roster.csv", "mimeType": "text/csv", "buffer": GOOD.encode()}]
    )
    page.get_by_role("button", name="Preview").click()
    page.get_by_text("This file would add 1, change 0").wait_for()
    page.screenshot(path=shots / "import-preview.png", full_page=True)
    page.get_by_role("button", name="Import these supporters").click()
    page.get_by_text("Roster imported: 1 added").wait_for()
    assert page.get_by_role("link", name="Fern").is_visible()
    page.screenshot(path=shots / "imported.png", full_page=True)
    assert all("422" in e for e in errors), errors  # the preview with row errors is a 422
    page.close()
