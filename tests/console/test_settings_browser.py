"""Settings in real headless Chromium: change a policy, add a crisis resource, fix a mistake."""

from __future__ import annotations

from core.services import programs
from core.services.programs import program_out
from tests.browser import needs_chromium
from tests.console.conftest import EMAILS, PASSWORD
from tests.helpers import system_ctx

pytestmark = needs_chromium


def stored(console):
    ctx = system_ctx(console.app)
    with ctx.session:
        return program_out(programs.get_program(ctx, "acme"))


def test_admin_changes_a_policy_and_adds_a_crisis_resource(browser, live, console, shots):
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{live}/console/p/acme/settings")
    page.get_by_label("E-mail address").fill(EMAILS["admin"])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")
    page.get_by_role("heading", name="Settings", exact=True).wait_for()
    page.screenshot(path=shots / "settings.png", full_page=True)

    page.get_by_label("Smallest group a report shows").fill("3")
    page.get_by_label("Session length (minutes)").fill("50")
    page.get_by_role("button", name="Save settings").click()
    page.locator("#min_report_group-error").wait_for()
    assert "Never below 5" in page.locator("#min_report_group-error").inner_text()
    assert page.get_by_label("Smallest group a report shows").get_attribute("aria-invalid")
    page.screenshot(path=shots / "refused.png", full_page=True)
    assert stored(console).policy.session_minutes == 45  # nothing stored

    page.get_by_label("Smallest group a report shows").fill("10")
    new = page.get_by_role("group", name="New crisis resource")
    new.get_by_label("Locale").fill("fr")
    new.get_by_label("Name").fill("SOS Amitié")
    new.get_by_label("Contact").fill("09 72 39 40 50")
    new.get_by_label("Web address").fill("https://www.sos-amitie.com/")
    new.get_by_label("Name").press("Enter")  # submitting by keyboard
    page.get_by_text("Settings saved.").wait_for()
    assert page.get_by_label("Session length (minutes)").input_value() == "50"
    assert page.get_by_role("group", name="Crisis resource 5: SOS Amitié").is_visible()
    page.screenshot(path=shots / "saved.png", full_page=True)

    now = stored(console)
    assert now.policy.session_minutes == 50 and now.policy.min_report_group == 10
    assert now.crisis_resources[-1].name == "SOS Amitié"
    assert all("status of 422" in e for e in errors), errors  # only the refused save
    page.close()
