"""The booking page in real headless Chromium (Debian's, never a downloaded one), served by a
real server on loopback: the device's zone, booking with the keyboard alone, the calendar
download, cancelling through the private link, a phone screen, no JavaScript, an LMS iframe,
and accessibility basics checked in the page. Screenshots go to test-artifacts/."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import icalendar
import pytest

from core.runtime import runtime
from tests import browser as chromium
from tests.browser import needs_chromium
from tests.conftest import make_app
from tests.helpers import EVERY_WEEKDAY, make_world
from tests.live_server import live_server
from tests.lms.test_booking_page import OTHER, STUDENT, booking_plugin

pytestmark = needs_chromium
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a test dependency")
expect = sync_api.expect

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "booking-browser"
NEW_YORK = "America/New_York"
EXPECTED_STATUS = re.compile(r"^Failed to load resource: .* status of (409|422) ")
ROLES_NEEDING_NAMES = {"textbox", "combobox", "radio", "button", "link", "checkbox", "listbox"}

# Contrast of every visible text against its effective background (WCAG relative luminance).
CONTRAST = """() => {
  const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => [r, g, b].map((v) => { v /= 255;
    return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); })
    .reduce((s, v, i) => s + v * [0.2126, 0.7152, 0.0722][i], 0);
  const background = (el) => { for (; el; el = el.parentElement) {
      const c = rgb(getComputedStyle(el).backgroundColor);
      if (c.length === 3 || c[3] > 0) return c.slice(0, 3); }
    return [255, 255, 255]; };
  const low = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!node.textContent.trim() || !el.checkVisibility()) continue;
    if (el.closest('.visually-hidden')) continue;
    const box = el.getBoundingClientRect();
    if (box.width < 2 || box.height < 2) continue;
    const fg = lum(rgb(getComputedStyle(el).color)), bg = lum(background(el));
    const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    if (ratio < 4.5) low.push(node.textContent.trim().slice(0, 40) + ' ' + ratio.toFixed(2));
  }
  return low;
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from chromium.launch()


@pytest.fixture
def site(database_url, tmp_path, clock) -> Iterator[dict[str, Any]]:
    """A school with Ash (every weekday 08:00-20:00 London) behind a real threaded server."""
    app = make_app(database_url, tmp_path, clock, plugins=[("lms", booking_plugin)])
    world = make_world(app, app.test_client(), kind="school", name="Northfield College")
    world.add_supporter("Ash", weekly=EVERY_WEEKDAY)
    with live_server(app) as base:
        yield {"app": app, "base": base}
    runtime(app).engine.dispose()


@pytest.fixture
def shots(request) -> Path:
    """Where this test's screenshots and downloads are kept (test-artifacts/ is gitignored)."""
    folder = ARTIFACTS / re.sub(r"[^\w.-]+", "_", request.node.name)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextmanager
def course_page(html: str) -> Iterator[str]:
    """An LMS course page on another site (localhost, while PeerLine is on 127.0.0.1)."""

    class Course(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(html.encode())

        def log_message(self, *_args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Course)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://localhost:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def register_lms(site: dict[str, Any], lms: str) -> None:
    from lms.lti.platforms import Registration, register

    urls = {name: f"{lms}/{name}" for name in ("auth_login_url", "auth_token_url", "jwks_url")}
    register(runtime(site["app"]), Registration(program="acme", issuer=lms, client_id="c", **urls))


def launch_url(site: dict[str, Any], student: Any = STUDENT) -> str:
    from lms.student import seal

    return f"{site['base']}/lms/book?s={seal(runtime(site['app']), student)}"


def open_page(browser: Any, **options: Any) -> tuple[Any, Any, list[str]]:
    """A fresh context; every page error and CSP report is collected to be asserted empty."""
    context = browser.new_context(accept_downloads=True, **options)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))

    def heard(message: Any) -> None:
        if "Content Security Policy" in message.text or (
            message.type == "error" and not EXPECTED_STATUS.match(message.text)
        ):
            problems.append(message.text)

    page.on("console", heard)
    return context, page, problems


def tab_to(page: Any, matches: str, limit: int = 60) -> None:
    """Press Tab until the focused element satisfies the JS predicate `matches` (on `el`)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"(() => {{ const el = document.activeElement; return {matches}; }})()"):
            return
    raise AssertionError(f"never reached {matches} with Tab")


def check_basics(page: Any, context: Any, name: str, shots: Path) -> None:
    """Names for every control (from Chromium's own accessibility tree), landmarks, the crisis
    resources on screen, 4.5:1 text contrast, no horizontal scroll; and a screenshot."""
    page.wait_for_load_state("load")
    cdp = context.new_cdp_session(page)
    cdp.send("Accessibility.enable")
    tree = cdp.send("Accessibility.getFullAXTree")["nodes"]
    cdp.detach()
    nameless = [
        node["role"]["value"]
        for node in tree
        if not node.get("ignored")
        and node.get("role", {}).get("value") in ROLES_NEEDING_NAMES
        and not node.get("name", {}).get("value", "").strip()
    ]
    assert nameless == [], f"{name}: controls without an accessible name: {nameless}"
    roles = {node.get("role", {}).get("value") for node in tree if not node.get("ignored")}
    assert {"main", "banner", "contentinfo"} <= roles, roles
    expect(page.get_by_role("heading", name="Not a crisis service")).to_be_visible()
    expect(page.get_by_text("Samaritans").first).to_be_visible()
    assert page.evaluate("document.documentElement.lang") == "en"
    assert page.evaluate(CONTRAST) == [], f"{name}: text under 4.5:1"
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"{name}: scrolls sideways ({width})"
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)


def test_a_student_books_with_the_keyboard_alone_in_their_detected_zone(browser, site, shots):
    context, page, problems = open_page(browser, timezone_id=NEW_YORK, locale="en-US")
    page.goto(launch_url(site))
    assert page.locator("#tz").input_value() == NEW_YORK, "detected from the browser"
    assert page.locator("#tz-detected").text_content() == "Your device says America/New York."
    check_basics(page, context, "1-choose", shots)

    tab_to(page, "el.id === 'topic-0'")
    outline = page.evaluate(
        "(() => { const s = getComputedStyle(document.activeElement);"
        " return [s.outlineStyle, parseFloat(s.outlineWidth)]; })()"
    )
    assert outline[0] == "solid" and outline[1] >= 2, f"focus must be visible: {outline}"
    page.keyboard.press("Space")  # Stress
    page.keyboard.press("Tab")  # to the next group: Text chat
    page.keyboard.press("ArrowDown")  # Video call
    page.keyboard.press("Tab")
    page.keyboard.press("Space")  # English
    tab_to(page, "el.type === 'submit'")
    with page.expect_navigation():
        page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name="Free times (America/New York)")).to_be_visible()
    first = page.get_by_role("radio", name="08:00 to 08:45 with Ash")
    assert first.count() == 1, "13:00 in London, shown as New York time"
    expect(page.get_by_role("group", name="Wednesday 4 March")).to_be_visible()
    check_basics(page, context, "2-times", shots)
    tab_to(page, "el.name === 'slot'")
    page.keyboard.press("Space")
    assert first.is_checked()
    tab_to(page, "el.type === 'submit'")
    with page.expect_navigation():
        page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name="Your peer chat is booked")).to_be_visible()
    expect(page.get_by_text("Wednesday 4 March, 08:00 to 08:45")).to_be_visible()
    check_basics(page, context, "3-booked", shots)
    tab_to(page, "el.textContent.startsWith('Add to calendar')")
    with page.expect_download() as got:
        page.keyboard.press("Enter")
    saved = shots / "peer-chat.ics"
    got.value.save_as(saved)
    [event] = icalendar.Calendar.from_ical(saved.read_bytes()).walk("VEVENT")
    assert str(event["SUMMARY"]) == "Peer chat" and event.decoded("DTSTART").hour == 13

    private = page.locator(".private-link a").get_attribute("href")
    assert private and "/lms/my/plr_" in private
    page.goto(private)
    page.wait_for_url(re.compile(r"tz=America%2FNew_York|tz=America/New_York"))
    expect(page.get_by_text("Wednesday 4 March, 08:00 to 08:45")).to_be_visible()
    check_basics(page, context, "4-manage", shots)
    tab_to(page, "el.textContent === 'Cancel my booking'")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.get_by_role("status").text_content() == (
        "Your booking is cancelled. Your supporter will be told."
    )
    page.screenshot(path=str(shots / "5-cancelled.png"), full_page=True)
    assert problems == []
    context.close()


def test_on_a_phone_nothing_scrolls_sideways_and_a_taken_time_is_announced(browser, site, shots):
    context, page, problems = open_page(
        browser,
        timezone_id="Europe/London",
        viewport={"width": 360, "height": 740},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    page.goto(launch_url(site))
    check_basics(page, context, "phone-1-choose", shots)
    page.get_by_label("Stress").check()
    page.get_by_label("Video call").check()
    page.get_by_label("English").check()
    page.get_by_role("button", name="Show free times").click()
    check_basics(page, context, "phone-2-times", shots)

    chosen = page.get_by_role("radio", name="13:00 to 13:45 with Ash")
    chosen.check()
    # someone else books that very time meanwhile
    other, other_page, _ = open_page(browser, timezone_id="Europe/London")
    other_page.goto(launch_url(site, OTHER))
    for label in ("Stress", "Video call", "English"):
        other_page.get_by_label(label).check()
    other_page.get_by_role("button", name="Show free times").click()
    other_page.get_by_role("radio", name="13:00 to 13:45 with Ash").check()
    other_page.get_by_role("button", name="Book this time").click()
    expect(other_page.get_by_role("heading", name="Your peer chat is booked")).to_be_visible()
    other.close()

    page.get_by_label("E-mail for a confirmation (optional)").fill("student@school.test")
    page.get_by_role("button", name="Book this time").click()
    alert = page.get_by_role("alert")
    assert alert.text_content() == "That time was just taken — choose another."
    assert page.evaluate("document.activeElement.getAttribute('role')") == "alert", "read first"
    assert page.locator("[aria-live='assertive']").count() == 1
    expect(page.get_by_role("radio", name="13:00 to 13:45 with Ash")).to_have_count(0)
    assert page.get_by_label("E-mail for a confirmation (optional)").input_value() == (
        "student@school.test"
    ), "kept for the next try"
    check_basics(page, context, "phone-3-taken", shots)
    assert problems == []
    context.close()


def test_without_javascript_the_programs_zone_is_used_and_can_be_changed(browser, site, shots):
    context, page, _problems = open_page(
        browser, java_script_enabled=False, timezone_id="Asia/Tokyo"
    )
    page.goto(launch_url(site))
    assert page.locator("#tz").input_value() == "Europe/London"
    for label in ("Stress", "Video call", "English"):
        page.get_by_label(label).check()
    page.get_by_role("button", name="Show free times").click()
    expect(page.get_by_role("radio", name="13:00 to 13:45 with Ash")).to_have_count(1)
    page.locator("#tz").select_option("Asia/Tokyo")
    page.get_by_role("button", name="Update the times").click()
    expect(page.get_by_role("radio", name="22:00 to 22:45 with Ash")).to_have_count(1)
    page.get_by_role("radio", name="22:00 to 22:45 with Ash").check()
    page.get_by_role("button", name="Book this time").click()
    expect(page.get_by_text("Wednesday 4 March, 22:00 to 22:45")).to_be_visible()
    page.screenshot(path=str(shots / "no-js-booked.png"), full_page=True)
    context.close()


def test_the_page_opens_inside_an_lms_iframe(browser, site, shots):
    context, page, problems = open_page(browser, timezone_id=NEW_YORK)
    course = (
        "<!doctype html><html lang='en'><title>Course</title><h1>Psychology 101</h1>"
        f"<iframe title='Peer support' src='{launch_url(site)}' width='420' height='900'></iframe>"
    )
    with course_page(course) as lms:  # another site (localhost) framing 127.0.0.1
        register_lms(site, lms)  # only a registered LMS may frame the page
        page.goto(f"{lms}/courses/1")
        tool = page.frame_locator("iframe")
        expect(tool.get_by_role("heading", name="Book a peer chat")).to_be_visible()
        assert tool.locator("#tz").input_value() == NEW_YORK
        for label in ("Stress", "Video call", "English"):
            tool.get_by_label(label).check()
        tool.get_by_role("button", name="Show free times").click()
        expect(tool.get_by_role("radio", name="08:00 to 08:45 with Ash")).to_have_count(1)
        page.screenshot(path=str(shots / "in-an-iframe.png"), full_page=True)
    assert problems == [], "no framing refusal, no CSP violation"
    context.close()
