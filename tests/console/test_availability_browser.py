"""Editing availability in real headless Chromium, through the forms, with screenshots."""

from __future__ import annotations

from tests.browser import needs_chromium
from tests.console.conftest import EMAILS, PASSWORD
from tests.console.test_availability import overrides, supporter_status, weekly

pytestmark = needs_chromium


def sign_in(page, live, role, target):
    page.goto(f"{live}{target}")
    page.get_by_label("E-mail address").fill(EMAILS[role])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live}{target}")


def test_coordinator_edits_weekly_hours_and_adds_time_off(browser, live, console, shots):
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    sign_in(page, live, "coordinator", "/console/p/acme/who-is-on")
    page.get_by_role("heading", name="Who is on").wait_for()
    page.screenshot(path=shots / "who-is-on.png", full_page=True)
    page.get_by_role("link", name="Ash").first.click()
    page.get_by_role("heading", name="Availability of Ash").wait_for()
    assert "Europe/London" in page.locator("#zone-note").inner_text()
    page.fill("#mon-0-start", "12:00")
    page.fill("#mon-0-end", "09:00")  # ends before it starts
    page.fill("#sat-0-start", "10:00")
    page.fill("#sat-0-end", "14:00")
    page.get_by_role("button", name="Save weekly hours").click()
    alert = page.locator("#mon-0-end-error")
    alert.wait_for()
    assert "must be after start" in alert.inner_text()
    assert page.locator("#mon-0-end").get_attribute("aria-describedby") == "mon-0-end-error"
    page.screenshot(path=shots / "weekly-error.png", full_page=True)
    assert ("sat", "10:00", "14:00") not in weekly(console)
    page.fill("#mon-0-start", "09:00")
    page.fill("#mon-0-end", "12:00")
    page.get_by_role("button", name="Save weekly hours").click()
    page.get_by_text("Saved the weekly hours of Ash.").wait_for()
    saved = weekly(console)
    assert ("mon", "09:00", "12:00") in saved and ("sat", "10:00", "14:00") in saved
    page.fill("#date", "2026-03-06")
    page.get_by_label("Time off").check()
    page.get_by_role("button", name="Add override").click()
    page.get_by_text("Added time off on 2026-03-06.").wait_for()
    assert [o.date.isoformat() for o in overrides(console)] == ["2026-03-06"]
    page.screenshot(path=shots / "saved.png", full_page=True)
    assert all("422" in e for e in errors), errors  # only the refused save
    page.close()


def test_supporter_pauses_from_my_availability_by_keyboard(browser, live, console, shots):
    page = browser.new_page()
    sign_in(page, live, "supporter", "/console/p/acme/")
    nav = page.get_by_role("navigation", name="Program")
    nav.get_by_role("link", name="My availability").click()
    page.get_by_role("heading", name="Availability of Ash").wait_for()
    page.get_by_label("Pause until").fill("2026-03-10")
    page.get_by_label("Pause until").press("Enter")
    page.get_by_text("Ash is paused until 2026-03-10").wait_for()
    assert supporter_status(console)[0] == "paused"
    page.screenshot(path=shots / "paused.png", full_page=True)
    page.get_by_role("button", name="Resume now").click()
    page.get_by_text("Ash is active again.").wait_for()
    assert supporter_status(console)[0] == "active"
    page.close()
