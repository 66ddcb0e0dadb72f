"""Reports in real Chromium: charts drawn, suppressed cells marked, bad dates refused."""

from __future__ import annotations

import pytest

from tests.console.conftest import EMAILS, PASSWORD
from tests.console.test_reports import activity  # noqa: F401 - a fixture

pytestmark = pytest.mark.usefixtures("activity")


def test_admin_reads_the_reports(console, live, browser, shots):
    page = browser.new_page()
    errors: list[str] = []
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    page.goto(f"{live}/console/sign-in")
    page.fill("input[name=email]", EMAILS["admin"])
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.click("nav >> text=Reports")
    page.wait_for_selector("h1:has-text('Reports')")
    assert page.locator("svg.chart").count() == 6
    assert page.locator("svg.chart rect").count() > 0, "bars are drawn"
    assert page.locator("td.suppressed").first.inner_text() == "suppressed (< 5)"
    assert "at least 5" in page.inner_text(".about-suppression")
    page.screenshot(path=shots / "reports.png", full_page=True)
    page.fill("#from", "2026-03-10")
    page.fill("#to", "2026-03-01")
    page.click("form.period button")
    assert "after the end date" in page.inner_text("[role=alert]")
    page.screenshot(path=shots / "bad-dates.png")
    assert [e for e in errors if "status of 422" not in e] == [], "no CSP or other errors"
    page.close()
