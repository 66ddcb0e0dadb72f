"""LTI 1.3 login and launch against a fake platform on loopback: the happy paths."""

from __future__ import annotations

import importlib
from urllib.parse import parse_qs, urlsplit

import pytest

from core.runtime import runtime
from lms.lti.oidc import cookie_name
from lms.student import Student, subject_of, unseal
from tests.fakes.lti_platform import CLAIM, INSTRUCTOR, LEARNER, lti_stack


@pytest.fixture
def stack(database_url, tmp_path, clock):
    with lti_stack(database_url, tmp_path, clock) as built:
        built.register()
        yield built


def query_of(location: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}


def student_from(stack, response) -> Student | None:
    assert response.status_code == 303, response.get_data(as_text=True)
    location = urlsplit(response.headers["Location"])
    assert location.path == "/lms/book"
    return unseal(runtime(stack.app), parse_qs(location.query)["s"][0])


def test_login_redirects_to_the_platform_with_state_nonce_and_the_hints(stack):
    location = stack.login()
    assert location.startswith(stack.platform.auth_url + "?")
    query = query_of(location)
    assert query["response_mode"] == "form_post" and query["prompt"] == "none"
    assert query["response_type"] == "id_token" and query["scope"] == "openid"
    assert query["client_id"] == stack.platform.client_id
    assert query["redirect_uri"] == "http://localhost/lti/launch"
    assert query["login_hint"] == "opaque-login-hint"
    assert query["lti_message_hint"] == "opaque-message-hint"
    assert len(query["state"]) >= 40 and len(query["nonce"]) >= 40
    assert query["state"] != query["nonce"]
    assert stack.count("lti_states") == 1


def test_the_state_cookie_works_in_an_iframe_and_a_new_window(stack):
    response = stack.client.get(
        "/lti/login",
        query_string={
            "iss": stack.platform.issuer,
            "login_hint": "hint",
            "target_link_uri": "http://localhost/lti/launch",
            "client_id": stack.platform.client_id,
        },
    )
    assert response.status_code == 302
    header = response.headers["Set-Cookie"]
    state = query_of(response.headers["Location"])["state"]
    assert header.startswith(f"{cookie_name(state)}={state};")
    for attribute in ("Secure", "HttpOnly", "SameSite=None", "Partitioned", "Path=/lti/"):
        assert attribute in header
    assert "Max-Age=600" in header


def test_a_launch_opens_the_booking_page_for_the_sealed_student(stack):
    form = stack.platform.authorize(stack.login())
    response = stack.client.post("/lti/launch", data=form)
    student = student_from(stack, response)
    assert student == Student(
        program="uni",
        subject=subject_of(stack.platform.issuer, "a6f1-opaque-student"),
        roles=(LEARNER,),
        locale="en-GB",
    )
    assert not student.is_instructor
    sealed = response.headers["Location"]
    assert "a6f1-opaque-student" not in sealed and "Sam" not in sealed
    assert stack.count("lti_nonces") == 1 and stack.count("lti_states") == 0
    assert stack.count("requester_identities") == 0  # the booking page makes the requester
    deleted = response.headers["Set-Cookie"]
    assert deleted.startswith(f"{cookie_name(form['state'])}=;") and "Max-Age=0" in deleted


def test_login_launch_and_the_booking_page_opens(database_url, tmp_path, clock):
    booking_page = getattr(importlib.import_module("lms.web"), "init_app", None)
    if booking_page is None:
        pytest.skip("the booking page (lms.web) is not built yet")
    with lti_stack(database_url, tmp_path, clock, plugins=(("lms_web", booking_page),)) as stack:
        stack.register()
        launch = stack.client.post("/lti/launch", data=stack.platform.authorize(stack.login()))
        assert student_from(stack, launch) is not None
        page = stack.client.get(launch.headers["Location"])
        assert page.status_code == 200 and page.mimetype == "text/html"
        assert "a6f1-opaque-student" not in page.get_data(as_text=True)


def test_an_instructor_and_an_administrator_are_recognised_by_their_roles(stack):
    administrator = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator"
    roles = [INSTRUCTOR, administrator, 42]
    form = stack.platform.authorize(stack.login(), {CLAIM + "roles": roles})
    student = student_from(stack, stack.client.post("/lti/launch", data=form))
    assert student is not None and student.is_instructor
    assert student.roles == (INSTRUCTOR, administrator)


def test_a_launch_without_a_locale_or_roles_still_opens(stack):
    presentation = {"document_target": "window"}
    overrides = {CLAIM + "launch_presentation": presentation, CLAIM + "roles": []}
    form = stack.platform.authorize(stack.login(), overrides)
    student = student_from(stack, stack.client.post("/lti/launch", data=form))
    assert student is not None and student.locale is None and student.roles == ()


def test_a_browser_that_blocked_the_cookie_is_vouched_for_by_the_server_record(stack):
    """Safari in an LMS iframe: the cookie never comes back; the state record still does."""
    form = stack.platform.authorize(stack.login())
    stack.client.delete_cookie(cookie_name(form["state"]), path="/lti/")
    assert stack.client.get_cookie(cookie_name(form["state"]), path="/lti/") is None
    assert student_from(stack, stack.client.post("/lti/launch", data=form)) is not None


def test_two_launches_in_two_tabs_do_not_trip_over_each_other(stack):
    first = stack.platform.authorize(stack.login())
    second = stack.platform.authorize(stack.login())
    assert student_from(stack, stack.client.post("/lti/launch", data=second)) is not None
    assert student_from(stack, stack.client.post("/lti/launch", data=first)) is not None
    assert stack.count("lti_nonces") == 2


def test_a_launch_behind_a_tls_proxy_uses_https_urls(database_url, tmp_path, clock):
    with lti_stack(database_url, tmp_path, clock, trust_proxy_hops=1) as stack:
        stack.register()
        proxied = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "peerline.example.edu"}
        login = stack.client.post(
            "/lti/login",
            data={
                "iss": stack.platform.issuer,
                "login_hint": "hint",
                "target_link_uri": "https://peerline.example.edu/lti/launch",
            },
            headers=proxied,
        )
        assert login.status_code == 302
        query = query_of(login.headers["Location"])
        assert query["redirect_uri"] == "https://peerline.example.edu/lti/launch"
        form = stack.platform.authorize(login.headers["Location"])
        launch = stack.client.post(
            "/lti/launch", data=form, headers=proxied, base_url="http://internal:8000"
        )
        assert student_from(stack, launch) is not None


def test_the_public_url_wins_over_the_request_host(database_url, tmp_path, clock):
    public = {"public_url": "https://peerline.example.edu"}
    with lti_stack(database_url, tmp_path, clock, **public) as stack:
        stack.register()
        redirect_uri = query_of(stack.login())["redirect_uri"]
        assert redirect_uri == "https://peerline.example.edu/lti/launch"


def test_several_platforms_and_deployments_for_one_program(stack):
    from tests.fakes.lti_platform import new_platform

    moodle = new_platform(stack, client_id="moodle-client", deployment_id="7")
    stack.register(moodle)
    second_deployment = stack.app.test_cli_runner().invoke(
        args=[
            "lti", "register", "--program", "uni", "--issuer", moodle.issuer,
            "--client-id", moodle.client_id, "--auth-url", moodle.auth_url,
            "--token-url", moodle.token_url, "--jwks-url", moodle.jwks_url,
            "--deployment", "8",
        ]
    )  # fmt: skip
    assert second_deployment.exit_code == 0, second_deployment.output
    for deployment in ("7", "8"):
        location = stack.login(moodle, lti_deployment_id=deployment)
        form = moodle.authorize(location, {CLAIM + "deployment_id": deployment})
        student = student_from(stack, stack.client.post("/lti/launch", data=form))
        assert student is not None and student.subject.startswith(moodle.issuer + " ")
    form = stack.platform.authorize(stack.login())
    student = student_from(stack, stack.client.post("/lti/launch", data=form))
    assert student is not None and student.subject.startswith(stack.platform.issuer + " ")


def test_platform_keys_are_cached_and_refetched_for_a_new_kid(stack):
    stack.client.post("/lti/launch", data=stack.platform.authorize(stack.login()))
    stack.client.post("/lti/launch", data=stack.platform.authorize(stack.login()))
    assert stack.platform.fetches["/jwks"] == 1
    stack.platform.rotate("platform-key-2")  # the LMS rotated its key
    form = stack.platform.authorize(stack.login())
    assert student_from(stack, stack.client.post("/lti/launch", data=form)) is not None
    assert stack.platform.fetches["/jwks"] == 2


def test_unknown_kids_cost_at_most_one_fetch_every_five_minutes(stack):
    stack.client.post("/lti/launch", data=stack.platform.authorize(stack.login()))
    for attempt in range(3):
        form = stack.platform.authorize(stack.login(), kid=f"made-up-{attempt}")
        assert stack.client.post("/lti/launch", data=form).status_code == 401
    assert stack.platform.fetches["/jwks"] == 2  # the first launch, then one refetch
    stack.clock.advance(minutes=5)
    form = stack.platform.authorize(stack.login(), kid="made-up-later")
    assert stack.client.post("/lti/launch", data=form).status_code == 401
    assert stack.platform.fetches["/jwks"] == 3
