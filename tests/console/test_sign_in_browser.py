"""Signing in and out of the console in real headless Chromium, by keyboard, with screenshots."""

from __future__ import annotations

from tests.browser import needs_chromium
from tests.console.conftest import EMAILS, PASSWORD

pytestmark = needs_chromium


def test_sign_in_by_keyboard_then_sign_out(browser, live, shots):
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{live}/console/p/acme/")
    assert page.url.endswith("/console/sign-in?next=/console/p/acme/")
    page.get_by_label("E-mail address").fill(EMAILS["admin"])
    page.get_by_label("Password").fill("wrong password, twelve+")
    page.keyboard.press("Enter")
    page.get_by_role("alert").wait_for()
    assert "do not match an account" in page.get_by_role("alert").inner_text()
    page.screenshot(path=shots / "refused.png", full_page=True)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")
    page.get_by_role("heading", name="Acme Corp").wait_for()
    assert page.url.endswith("/console/p/acme/")
    assert page.get_by_role("navigation", name="Program").is_visible()
    page.screenshot(path=shots / "signed-in.png", full_page=True)
    page.get_by_role("button", name="Sign out").click()
    page.get_by_text("You are signed out.").wait_for()
    page.goto(f"{live}/console/p/acme/")
    assert "/console/sign-in" in page.url
    assert errors == [] or all("401" in e for e in errors), errors
    page.close()
