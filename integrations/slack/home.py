"""The Slack Home tab: how to ask, the person's own requests, and a supporter's own controls."""

from __future__ import annotations

import logging
import uuid
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from core.errors import ChangeClosed, Conflict, NotFound, PeerLineError
from core.notify.wording import zone_of
from core.schemas.programs import NOT_A_CRISIS_SERVICE, CrisisResourceOut
from core.services import bookings, capacity, identities, programs, requests, roster
from core.services.access import Ctx, Principal
from integrations.slack import modals, offers, requester
from integrations.slack.home_view import (
    ASK,
    CANCEL,
    MAX_REQUESTS_SHOWN,
    MAX_SESSIONS_SHOWN,
    PAUSE,
    PAUSE_UNTIL,
    RESUME,
    Home,
    OwnRequest,
    SupporterPanel,
    home_view,
)
from integrations.slack.modals import escape
from integrations.slack.settings import SlackSettings
from integrations.slack.workspaces import program_slug, service_ctx

if TYPE_CHECKING:
    from core.runtime import Runtime

log = logging.getLogger(__name__)
UPCOMING = timedelta(days=14)
NOT_FOUND = "That request could not be found, so nothing was cancelled."
ALREADY_CLOSED = "That request was already closed."


def register(bolt_app: App, runtime: Runtime, settings: SlackSettings) -> None:
    """Publish on opening; each button acts as the clicking user, then publishes afresh."""
    tab = HomeTab(runtime, settings)
    bolt_app.event("app_home_opened")(tab.opened)
    bolt_app.action(ASK)(tab.ask)
    for action_id in (CANCEL, PAUSE, PAUSE_UNTIL, RESUME):
        bolt_app.action(action_id)(tab.act)


class HomeTab:
    """One workspace's Home tab: a view per person; buttons act as that person, nobody else."""

    def __init__(self, runtime: Runtime, settings: SlackSettings) -> None:
        self.runtime, self.settings = runtime, settings

    def opened(self, event: dict[str, Any], body: dict[str, Any], client: WebClient) -> None:
        """A Slack error propagates here, so the event fails and Slack's retry runs it again."""
        if event.get("tab") == "home":  # the Messages tab needs no view
            self.publish(client, event["user"], body.get("team_id"))

    def ask(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        """The same modal as the slash command; the trigger lasts 3 s, so nothing slow first.

        Never a dead end: without the form, a modal says why (no program linked, or the
        form could not be made); if Slack refuses the modal itself, the Home tab says it.
        """
        ack()
        team, user = (body.get("team") or {}).get("id"), body["user"]["id"]
        view = self._form_or_notice(team)
        try:
            client.views_open(trigger_id=body["trigger_id"], view=view)
        except SlackApiError as exc:  # the trigger expired (3 s), or the token is bad
            log.warning("could not open the request modal: %s", exc.response.get("error"))
            self._say_on_home(client, user, team, requester.NOT_OPENED)

    def _form_or_notice(self, team: str | None) -> dict[str, Any]:
        try:
            choices = requester.modal_choices(self.runtime, self.settings, team)
        except Exception:  # the database, say: the person must still hear something
            log.exception("the request form could not be made for the Home tab")
            return modals.notice_view(requester.NOT_OPENED)
        if choices is None:
            log.warning("Talk to a peer pressed, but the workspace has no program")
            return modals.notice_view(requester.NOT_LINKED)
        return modals.request_view(*choices)

    def _say_on_home(
        self, client: WebClient, user: str, team: str | None, said: str | None
    ) -> None:
        try:
            self.publish(client, user, team, said)
        except (SlackApiError, SlackClientError, OSError) as exc:
            log.warning("could not publish the Home tab after a button (%s)", type(exc).__name__)

    def act(self, ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        """Cancel, pause or resume, then show the outcome on a fresh view."""
        ack()
        user, team = body["user"]["id"], (body.get("team") or {}).get("id")
        slug = program_slug(self.runtime, self.settings, team)
        action, value = _action(body)
        said = None
        if slug and action == CANCEL:
            said = self.cancel(slug, user, value)
        elif slug and action == PAUSE_UNTIL:
            said = self.set_status(slug, user, "paused", _picked_date(body))
        elif slug:
            said = self.set_status(slug, user, "paused" if action == PAUSE else "active")
        self._say_on_home(client, user, team, said)

    def publish(
        self, client: WebClient, user_id: str, team_id: str | None, said: str | None = None
    ) -> None:
        """Times in the user's Slack zone, asked of Slack only when there is a time to show."""
        home = self.gather(program_slug(self.runtime, self.settings, team_id), user_id)
        timed = home.supporter is not None or any(r.slot for r in home.requests)
        fallback = home.supporter.time_zone if home.supporter else home.time_zone
        zone = _zone(client, user_id, fallback) if timed else zone_of({"time_zone": fallback})
        view = home_view(home, zone, self.settings.command, said)
        client.views_publish(user_id=user_id, view=view)

    def gather(self, slug: str | None, user_id: str) -> Home:
        """The program's safety text, this user's requests and, for supporters, their panel."""
        try:
            ctx = service_ctx(self.runtime, slug) if slug else None
        except NotFound:
            ctx = None
        if ctx is None or slug is None:
            log.warning("no program for this workspace; the Home tab shows default resources")
            defaults = [CrisisResourceOut(**r) for r in programs.DEFAULT_CRISIS_RESOURCES]
            return Home(NOT_A_CRISIS_SERVICE, defaults, "UTC")
        with ctx.session:
            intake = programs.intake(ctx, slug)
            program_id = programs.get_program(ctx, slug).id
            mine = identities.requests_of(ctx, program_id, "slack", user_id)
            own = tuple(_own(ctx, request.id) for request in mine[:MAX_REQUESTS_SHOWN])
            supporter = roster.find_by_contact(ctx, program_id, "slack", user_id)
            panel = _panel(ctx, program_id, supporter.id) if supporter else None
        return Home(intake.notice, intake.crisis_resources, intake.time_zone, True, own, panel)

    def cancel(self, slug: str, user_id: str, value: str) -> str:
        """As the requester, and only once core confirms the request is this Slack user's."""
        try:
            request_id = uuid.UUID(value)
        except ValueError:
            return NOT_FOUND
        lookup = service_ctx(self.runtime, slug)
        with lookup.session:
            program_id = programs.get_program(lookup, slug).id
            mine = identities.requests_of(lookup, program_id, "slack", user_id)
            owned = {r.id: r.alias for r in mine}
        if request_id not in owned:
            log.info("a Home tab Cancel named a request that is not the clicker's: refused")
            return NOT_FOUND
        principal = Principal(role="requester", program_id=program_id, request_id=request_id)
        now, cipher = self.runtime.clock.now(), self.runtime.cipher
        ctx = Ctx(self.runtime.session_factory(), principal, now, cipher)
        with ctx.session:
            try:
                requests.cancel(ctx, request_id)
            except ChangeClosed as error:  # too close to the session: say so, and whom to ask
                return _sentence(error.message)
            except Conflict:
                return ALREADY_CLOSED
            except PeerLineError as error:
                return _sentence(error.message)
        return f"Your request *{escape(owned[request_id])}* is cancelled."

    def set_status(self, slug: str, user_id: str, status: str, until: date | None = None) -> str:
        """As the supporter themselves; core makes it take effect for matching at once."""
        ctx = offers._supporter_ctx(self.runtime, slug, user_id)
        if ctx is None or ctx.principal.supporter_id is None:
            return offers.NOT_A_SUPPORTER
        with ctx.session:
            try:
                roster.set_status(ctx, ctx.principal.supporter_id, status, until=until)
            except PeerLineError as error:
                return _sentence(error.message)
        if until is not None:
            return f"You are paused until {until:%A %-d %B}; you will be available again then."
        if status == "paused":
            return "You are paused. Nobody is offered to you until you say you are available."
        return "You are available again. New requests can be offered to you."


def _own(ctx: Ctx, request_id: uuid.UUID) -> OwnRequest:
    request = requests.get_request(ctx, request_id)
    brief = requests.booking_brief(ctx, request) if request.status == "scheduled" else None
    slot = (brief.starts_at, brief.ends_at) if brief else None
    return OwnRequest(request.id, request.alias, request.status, slot)


def _panel(ctx: Ctx, program_id: uuid.UUID, supporter_id: uuid.UUID) -> SupporterPanel:
    """Read as the supporter, so core shows exactly what that supporter may see."""
    principal = Principal(role="supporter", program_id=program_id, supporter_id=supporter_id)
    own = Ctx(session=ctx.session, principal=principal, now=ctx.now)
    supporter, program = roster.get_supporter(own, supporter_id)
    zone, until = ZoneInfo(program.time_zone), own.now + UPCOMING
    week = capacity.weeks_between(own.now, own.now + timedelta(seconds=1), zone)
    load = capacity.sessions_per_week(own, program, [supporter.id], week)
    booked = bookings.list_bookings(
        own, program, supporter_id=supporter.id, start=own.now, end=until, status="confirmed"
    )[:MAX_SESSIONS_SHOWN]
    sessions = tuple(
        (b.starts_at, b.ends_at, b.mode, bookings.booking_out(own, b).request_alias or "")
        for b in booked
    )
    blocked = roster.unmatchable_reasons(supporter, program, own.now.date())
    return SupporterPanel(
        paused=supporter.status != "active",
        time_zone=supporter.time_zone,
        blocked=tuple(r for r in blocked if r != supporter.status),
        this_week=load[(supporter.id, week[0].start)],
        weekly_cap=capacity.weekly_cap(supporter, program),
        concurrent_cap=capacity.concurrent_cap(supporter, program),
        sessions=sessions,
    )


def _action(body: dict[str, Any]) -> tuple[str, str]:
    """The button's action id and value (a value is a claim, checked before any use)."""
    try:
        pressed = body["actions"][0]
        return str(pressed.get("action_id") or ""), str(pressed.get("value") or "")
    except (KeyError, IndexError, AttributeError):
        return "", ""


def _picked_date(body: dict[str, Any]) -> date | None:
    """The datepicker's choice; an unreadable one pauses without an end date."""
    try:
        return date.fromisoformat(str(body["actions"][0]["selected_date"]))
    except (KeyError, IndexError, ValueError):
        return None


def _sentence(message: str) -> str:
    return escape(message[:1].upper() + message[1:]) + "."


def _zone(client: WebClient, user_id: str, fallback: str) -> ZoneInfo:
    """The user's zone as Slack knows it (users:read); else the fallback, else UTC."""
    try:
        tz = client.users_info(user=user_id)["user"].get("tz")
    except (SlackApiError, SlackClientError, OSError, KeyError, TypeError) as exc:
        log.info("users.info failed (%s); times shown in the fallback zone", type(exc).__name__)
        tz = None
    return zone_of({"time_zone": tz if isinstance(tz, str) and tz else fallback})
