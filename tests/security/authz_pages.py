"""The authorization matrix of the console, the plugins' endpoints and the public pages.

Console pages take the signed-in account's role; a bearer token (requester, service) is no
console session, so those roles are sent to sign in like anyone signed out. Endpoints that
identify their caller by other means say how and where that is tested; here no role's
credentials may open them.
"""

from __future__ import annotations

import io
from typing import Any

from core.services.reports import REPORTS
from tests.security.authz_cells import Do, Entry, Values, api, everyone, own, page
from tests.security.authz_forms import form_fields
from tests.security.authz_table import fresh_supporter, paused_ash, resume_ash
from tests.security.authz_world import World

C = "/console/p/<slug>"
R = f"{C}/roster/<uuid:supporter_id>"
A = f"{C}/supporters/<uuid:supporter_id>/availability"
STAFF = "coordinator admin operator"
ADMINS = "admin operator"


def shown_form(path: str) -> Any:
    """The form at `path` as the acme admin's browser would send it unchanged."""

    def read(world: World, values: Values) -> dict[str, list[str]]:
        url = path.format_map(values)
        html = world.consoles["admin"].get(url).get_data(as_text=True)
        return form_fields(html, url)

    return read


def roster_csv(world: World) -> str:
    return world.consoles["admin"].get("/console/p/acme/roster/export.csv").get_data(as_text=True)


def upload(world: World, _: Values) -> dict[str, Any]:
    return {"file": (io.BytesIO(roster_csv(world).encode()), "roster.csv")}


def new_account(world: World, _: Values) -> dict[str, str]:
    return {"email": f"new{world.n()}@acme.test", "name": "New", "role": "coordinator"}


def new_supporter(world: World, _: Values) -> dict[str, Any]:
    alias = f"Typed {world.n()}"
    return {"alias": alias, "time_zone": "UTC", "languages": ["es"], "topics": ["general"]} | {
        "modes": ["text"]
    }


def new_record(world: World, values: Values) -> dict[str, str]:
    return {"supporter": values["ash"], "name": f"Course {world.n()}", "completed_on": "2026-01-05"}


def day_off(world: World, _: Values) -> dict[str, str]:
    return {"date": world.future_day(), "available": "no"}


SSO = "OpenID Connect (Entra ID), tests/teams/test_console_sign_in.py; none is set up here"
MICROSOFT = ({"name": "microsoft"},)
HOME = page("supporter coordinator admin", other_admin="3xx", done="3xx")
CONSOLE: dict[tuple[str, str], Entry] = {
    ("GET", "/console/"): Entry({**HOME, "operator": "2xx"}),  # the rest go to their program
    ("GET", f"{C}/"): Entry(page("supporter " + STAFF, other_admin="404")),
    ("GET", f"{C}/accounts"): Entry(page(ADMINS, other_admin="404")),
    ("POST", f"{C}/accounts"): Entry(
        page(ADMINS, other_admin="404", done="3xx"), Do(form=new_account)
    ),
    ("POST", f"{C}/accounts/<uuid:account_id>/<action>"): Entry(
        page(ADMINS, other_admin="404", done="3xx"),
        Do(setup=lambda w: {"account_id": w.fresh_account(), "action": "disable"}),
    ),
    ("GET", f"{C}/audit"): Entry(page(STAFF, other_admin="404")),
    ("GET", f"{C}/integrations"): Entry(page(ADMINS, other_admin="404")),
    ("POST", f"{C}/integrations/deliveries/<uuid:delivery_id>/retry"): Entry(
        page(ADMINS, other_admin="404", done="3xx"),
        Do(setup=lambda w: {"delivery_id": w.fresh_dead_letter()}),
    ),
    ("GET", f"{C}/integrations/download/<name>"): Entry(
        page(ADMINS, other_admin="404"), Do(each=({"name": "teams-app"},))
    ),
    ("GET", f"{C}/my-availability"): Entry(page("supporter", other_admin="403", done="3xx")),
    ("GET", f"{C}/my-trainings"): Entry(page("supporter", other_admin="403")),
    ("GET", f"{C}/reports"): Entry(page(STAFF, other_admin="404")),
    ("GET", f"{C}/reports/<name>.csv"): Entry(
        page(STAFF, other_admin="404"), Do(each=tuple({"name": n} for n in REPORTS))
    ),
    ("GET", f"{C}/roster"): Entry(page(STAFF, other_admin="404")),
    ("GET", R): Entry(page(STAFF, other_admin="404")),
    ("POST", R): Entry(
        page(ADMINS, other_admin="404", done="3xx"),
        Do(setup=fresh_supporter, form=shown_form("/console/p/acme/roster/{supporter_id}")),
    ),
    ("POST", f"{R}/pause"): Entry(
        page(STAFF, other_admin="404", done="3xx"), Do(setup=fresh_supporter)
    ),
    ("POST", f"{R}/resume"): Entry(
        page(STAFF, other_admin="404", done="3xx"),
        Do(setup=lambda w: {"supporter_id": w.fresh_supporter(status="paused")}),
    ),
    ("GET", f"{R}/offboard"): Entry(page(ADMINS, other_admin="404")),
    ("POST", f"{R}/offboard"): Entry(
        page(ADMINS, other_admin="404", done="3xx"),
        Do(setup=fresh_supporter, form={"confirm": "yes"}),
    ),
    ("GET", f"{C}/roster/export.csv"): Entry(page(STAFF, other_admin="404")),
    ("GET", f"{C}/roster/import"): Entry(page(ADMINS, other_admin="404")),
    ("POST", f"{C}/roster/import"): Entry(page(ADMINS, other_admin="404"), Do(form=upload)),
    ("POST", f"{C}/roster/import/confirm"): Entry(
        page(ADMINS, other_admin="404", done="3xx"),
        Do(form=lambda w, _: {"csv": roster_csv(w)}),
    ),
    ("GET", f"{C}/roster/new"): Entry(page(ADMINS, other_admin="404")),
    ("POST", f"{C}/roster/new"): Entry(
        page(ADMINS, other_admin="404", done="3xx"), Do(form=new_supporter)
    ),
    ("GET", f"{C}/settings"): Entry(page(STAFF, other_admin="404")),
    ("POST", f"{C}/settings"): Entry(
        page(ADMINS, other_admin="404", done="3xx"),
        Do(form=shown_form("/console/p/acme/settings")),
    ),
    ("GET", A): Entry(page("supporter " + STAFF, other_admin="404")),
    ("POST", A): Entry(
        page("supporter " + STAFF, other_admin="404", done="3xx"),
        Do(form=shown_form("/console/p/acme/supporters/{ash}/availability")),
    ),
    ("POST", f"{A}/overrides"): Entry(
        page("supporter " + STAFF, other_admin="404", done="3xx"), Do(form=day_off)
    ),
    ("POST", f"{A}/overrides/<uuid:override_id>/delete"): Entry(
        page("supporter " + STAFF, other_admin="404", done="3xx"),
        Do(setup=lambda w: {"override_id": w.fresh_override(w.made.ash)}),
    ),
    ("POST", f"{A}/pause"): Entry(
        page("supporter " + STAFF, other_admin="404", done="3xx"), Do(cleanup=resume_ash)
    ),
    ("POST", f"{A}/resume"): Entry(
        page("supporter " + STAFF, other_admin="404", done="3xx"),
        Do(setup=paused_ash, cleanup=resume_ash),
    ),
    ("GET", f"{C}/training"): Entry(page(STAFF, other_admin="404")),
    ("POST", f"{C}/training/records"): Entry(
        page(STAFF, other_admin="404", done="3xx"), Do(form=new_record)
    ),
    ("POST", f"{C}/training/<uuid:supporter_id>/records/<uuid:training_id>/delete"): Entry(
        page(STAFF, other_admin="404", done="3xx"),
        Do(setup=lambda w: {"training_id": w.fresh_training(w.made.ash)}),
    ),
    ("GET", f"{C}/who-is-on"): Entry(page(STAFF, other_admin="404")),
    ("GET", "/console/sign-in"): Entry(everyone("2xx")),
    ("POST", "/console/sign-in"): Entry(
        everyone("401"), Do(form={"email": "nobody@acme.test", "password": "not the password"})
    ),
    ("POST", "/console/sign-out"): Entry(everyone("3xx"), Do(fresh_session=True)),
    ("GET", "/console/sign-in/<name>"): own(SSO, "404", Do(each=MICROSOFT)),
    ("GET", "/console/sign-in/<name>/done"): own(SSO, "404", Do(each=MICROSOFT)),
    ("GET", "/console/static/<path:filename>"): Entry(
        everyone("2xx"), Do(each=({"filename": "console.css"},))
    ),
}

BOGUS = ({"token": "plr_no-such-link-0000000000000000"},)
MY_LINK = "the requester's private link, tests/lms/test_booking_page.py"
LTI = "LTI 1.3 login and signed id_token, tests/lms/test_lti_launch.py, test_lti_refusals.py"
BOT = "Bot Framework JWT, tests/teams/test_auth.py"
FEED_STAFF = {"requester": "401", "other_requester": "401"}  # requester tokens are refused here
PLUGINS: dict[tuple[str, str], Entry] = {
    ("GET", "/"): Entry(everyone("2xx")),
    ("GET", "/healthz"): Entry(everyone("2xx")),
    ("GET", "/readyz"): Entry(everyone("503")),  # public; the schema here is not migrated
    ("GET", "/metrics"): own("PEERLINE_METRICS_TOKEN, tests/integration/test_deliveries.py", "401"),
    ("GET", "/static/<path:filename>"): Entry(
        everyone("404"), Do(each=({"filename": "console.css"},))
    ),
    ("GET", "/api/v1/openapi.json"): Entry(everyone("2xx")),
    ("GET", "/api/v1/docs"): Entry(everyone("2xx")),
    ("POST", "/api/messages"): own(
        "Bot Framework JWT, tests/teams/test_auth.py", "401", Do(json={})
    ),
    ("POST", "/slack/events"): own("Slack request signature, tests/slack/test_wiring.py", "401"),
    ("GET", "/slack/install"): Entry(everyone("2xx")),  # Slack authenticates who installs
    ("GET", "/slack/oauth_redirect"): own("Slack OAuth state, tests/slack/test_oauth.py", "400"),
    ("GET", "/lti/login"): own(LTI, "400"),
    ("POST", "/lti/login"): own(LTI, "400"),
    ("GET", "/lti/launch"): own(LTI, "400"),
    ("POST", "/lti/launch"): own(LTI, "400"),
    ("GET", "/lti/jwks"): Entry(everyone("2xx")),
    ("GET", "/lti/register"): own("registration key, tests/lms/test_lti_registration.py"),
    ("GET", "/lms/book"): own("the sealed launch session, tests/lms/test_booking_page.py", "401"),
    ("POST", "/lms/book"): own("the sealed launch session, tests/lms/test_booking_page.py", "401"),
    ("GET", "/lms/booking-static/<path:filename>"): Entry(
        everyone("2xx"), Do(each=({"filename": "booking.css"},))
    ),
    ("GET", "/lms/my/<token>"): own(MY_LINK, "404", Do(each=BOGUS)),
    ("POST", "/lms/my/<token>/cancel"): own(MY_LINK, "404", Do(each=BOGUS)),
    ("POST", "/lms/my/<token>/move"): own(MY_LINK, "404", Do(each=BOGUS)),
    ("GET", "/lms/my/<token>/peer-chat.ics"): own(MY_LINK, "404", Do(each=BOGUS)),
    ("GET", "/feeds/<token>.ics"): own(
        "the feed URL's secret, tests/lms/test_feeds.py",
        "404",
        Do(each=({"token": "no-such-feed"},)),
    ),
    ("POST", "/lms/feeds/supporter"): Entry(api("supporter", other_admin="403", **FEED_STAFF)),
    ("POST", "/lms/feeds/supporter/rotate"): Entry(
        api("supporter", other_admin="403", **FEED_STAFF)
    ),
    ("DELETE", "/lms/feeds/supporter"): Entry(
        api("supporter coordinator admin operator", other_admin="404", **FEED_STAFF),
        Do(query="supporter_id={ash}"),
    ),
    ("GET", "/lms/canvas/connect"): Entry(
        api("", other_admin="404", admin="3xx", operator="3xx", **FEED_STAFF)
    ),
    ("GET", "/lms/canvas/status"): Entry(api(ADMINS, other_admin="404", **FEED_STAFF)),
    ("GET", "/lms/canvas/callback"): own("a sealed state, tests/lms/test_canvas_sync.py", "400"),
}
