"""`/lti/login`, `/lti/launch`, `/lti/jwks` and `/lti/register`: parse, call, answer.

Any refusal is the error page (400/401/403) and leaves nothing stored. Logs carry the
refusal's reason code and the platform's id, never a subject, a hint or a token.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlencode

import requests
from flask import Blueprint, Response, jsonify, redirect, request
from werkzeug.exceptions import HTTPException

from lms.lti import deep_linking, oidc, pages, platforms
from lms.lti.errors import LtiRefused, bad_request, not_authentic, not_registered
from lms.lti.keys import ToolKeys
from lms.lti.platform_keys import PlatformKeys
from lms.lti.registration import DynamicRegistration, refused
from lms.lti.tool import ToolUrls
from lms.lti.validation import DAMAGED, DEEP_LINKING, Launch, LaunchValidator
from lms.student import Student, seal, subject_of

if TYPE_CHECKING:
    from core.runtime import Runtime

log = logging.getLogger(__name__)
BOOKING_PAGE = "/lms/book"


@dataclass(frozen=True)
class LtiTool:
    """Everything the views use, made once per app."""

    runtime: Runtime
    keys: ToolKeys
    validator: LaunchValidator
    registration: DynamicRegistration

    @classmethod
    def create(cls, runtime: Runtime, http: requests.Session) -> LtiTool:
        platform_keys = PlatformKeys(now=runtime.clock.now, http=http)
        return cls(
            runtime=runtime,
            keys=ToolKeys(runtime),
            validator=LaunchValidator(runtime, platform_keys),
            registration=DynamicRegistration(runtime, http),
        )

    def urls(self) -> ToolUrls:
        """PEERLINE_PUBLIC_URL when set, else this request's (https behind a trusted proxy)."""
        return ToolUrls(self.runtime.settings.public_url or request.host_url)

    def launch(self, id_token: str | None, state: str | None) -> Response:
        if not id_token:
            raise bad_request("missing_id_token", DAMAGED)
        if not state:
            raise not_authentic("missing_state")
        checked = self.validator.validate(id_token)
        slug = platforms.program_slug(self.runtime, checked.platform.program_id)
        if slug is None:
            raise not_registered("program_gone", "This peer support program no longer exists.")
        answer = self._answer(checked, slug)
        oidc.accept(self.runtime, checked, state, request.cookies.get(oidc.cookie_name(state)))
        forget_state(answer, state)
        log.info(
            "lti launch accepted",
            extra={"platform": str(checked.platform.id), "message_type": checked.message_type},
        )
        return answer

    def _answer(self, checked: Launch, slug: str) -> Response:
        """The Deep Linking hand-back, or the booking page for the sealed student."""
        if checked.message_type == DEEP_LINKING:
            assert checked.return_url is not None
            now = self.runtime.clock.now()
            token = deep_linking.response_jwt(self.keys, checked, self.urls().launch, now)
            return pages.auto_post(checked.return_url, token)
        student = Student(
            program=slug,
            subject=subject_of(checked.platform.issuer, checked.sub),
            roles=checked.roles,
            locale=checked.locale,
        )
        sealed = seal(self.runtime, student)
        return redirect(f"{BOOKING_PAGE}?{urlencode({'s': sealed})}", 303)  # type: ignore[return-value]


def remember_state(response: Response, login: oidc.Login) -> None:
    response.set_cookie(
        login.cookie_name,
        login.state,
        max_age=int(oidc.STATE_TTL.total_seconds()),
        path=oidc.COOKIE_PATH,
        secure=True,
        httponly=True,
        samesite="None",
        partitioned=True,
    )


def forget_state(response: Response, state: str) -> None:
    response.delete_cookie(
        oidc.cookie_name(state),
        path=oidc.COOKIE_PATH,
        secure=True,
        httponly=True,
        samesite="None",
        partitioned=True,
    )


def blueprint(tool: LtiTool) -> Blueprint:
    bp = Blueprint("lti", __name__, url_prefix="/lti")

    @bp.route("/login", methods=["GET", "POST"])
    def login() -> Response:
        params = oidc.LoginRequest.parse(request.values.to_dict())
        started = oidc.begin(tool.runtime, params, tool.urls().launch)
        response: Response = redirect(started.redirect_url, 302)  # type: ignore[assignment]
        remember_state(response, started)
        return response

    @bp.route("/launch", methods=["GET", "POST"])
    def launch() -> Response:
        if request.method != "POST":
            raise bad_request("not_a_launch", DAMAGED)
        return tool.launch(request.form.get("id_token"), request.form.get("state"))

    @bp.get("/jwks")
    def jwks() -> Response:
        response = jsonify(tool.keys.jwks())
        response.headers["Cache-Control"] = "public, max-age=300"
        return response

    @bp.get("/register")
    def register() -> Response:
        program = tool.registration.program_for(request.args)
        config_url = request.args.get("openid_configuration")
        if not config_url:
            raise refused("no_configuration", "The platform did not say where its settings are.")
        token = request.args.get("registration_token")
        platform = tool.registration.register(program, config_url, token, tool.urls())
        log.info("lti platform registered", extra={"platform": str(platform.id)})
        return pages.registered(program)

    bp.register_error_handler(LtiRefused, _refused)
    bp.register_error_handler(HTTPException, lambda error: error)
    bp.register_error_handler(Exception, _unexpected)
    return bp


def _refused(error: LtiRefused) -> Response:
    log.info("lti request refused: %s", error.reason, extra={"reason": error.reason})
    if error.reason.startswith("registration_"):
        return pages.error(error, title="PeerLine could not be registered", retry="")
    return pages.error(error)


def _unexpected(error: Exception) -> Response:
    log.exception("lti request failed on %s", request.path)
    problem = LtiRefused("internal", "Something went wrong on PeerLine's side.", status=500)
    return pages.error(problem)
