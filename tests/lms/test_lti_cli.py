"""`peerline lti …`: manual registration, the platform list, the Canvas key, the wiring."""

from __future__ import annotations

import json

import pytest

from core.cli import main
from lms.plugin import init_app as lms_init_app
from tests.conftest import make_app
from tests.fakes.lti_platform import lti_stack

LMS = "https://canvas.example.edu"


@pytest.fixture
def stack(database_url, tmp_path, clock):
    with lti_stack(database_url, tmp_path, clock) as built:
        yield built


def run(stack, *args: str):
    return stack.app.test_cli_runner().invoke(main, ["lti", *args])


def register_args(*extra: str, issuer: str = LMS, client_id: str = "10000000000042") -> list[str]:
    return [
        "register", "--program", "uni", "--issuer", issuer, "--client-id", client_id,
        "--auth-url", f"{LMS}/api/lti/authorize_redirect",
        "--token-url", f"{LMS}/login/oauth2/token",
        "--jwks-url", f"{LMS}/api/lti/security/jwks", *extra,
    ]  # fmt: skip


def test_register_then_list_platforms(stack):
    assert run(stack, "platforms").output.strip() == "no LTI platforms registered"
    result = run(stack, *register_args("--deployment", "1:abc", "--deployment", "2:def"))
    assert result.exit_code == 0, result.output
    assert f"registered {LMS} (client 10000000000042) for uni" in result.output
    assert "deployments: 1:abc, 2:def" in result.output
    again = run(stack, *register_args("--deployment", "3:ghi"))  # adds, never duplicates
    assert again.exit_code == 0 and "1:abc, 2:def, 3:ghi" in again.output
    run(stack, *register_args(issuer="http://localhost:8080", client_id="dev-moodle"))
    listed = run(stack, "platforms")
    assert listed.exit_code == 0
    development, canvas = listed.output.strip().splitlines()  # sorted by issuer
    assert canvas.split("\t")[:3] == ["uni", LMS, "client 10000000000042"]
    assert "deployments: 1:abc, 2:def, 3:ghi" in canvas and canvas.endswith("(cli)")
    assert "http://localhost:8080" in development and "deployments: -" in development


def test_a_registration_without_deployments_says_launches_wait_for_one(stack):
    result = run(stack, *register_args())
    assert result.exit_code == 0 and "launches are refused until one is added" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (register_args(issuer="http://lms.example.com"), "issuer: must be an https URL"),
        (
            [*register_args()[:-2], "--jwks-url", "ftp://lms.example.com/keys"],
            "jwks_url: must be an https URL",
        ),
        (register_args(client_id=" "), "client_id: must be 1 to 255 characters"),
        (register_args("--deployment", "x" * 300), "deployment: must be 1 to 255 characters"),
        (["register", *register_args()[1:2], "nope", *register_args()[3:]], "no program 'nope'"),
    ],
    ids=["http issuer", "ftp keys", "blank client id", "long deployment", "unknown program"],
)
def test_register_refuses_bad_input_and_stores_nothing(stack, args, message):
    result = run(stack, *args)
    assert result.exit_code == 1 and message in result.output
    assert stack.count("lti_platforms") == 0 and stack.count("lti_deployments") == 0


def test_canvas_key_prints_the_developer_key_json(stack):
    result = stack.app.test_cli_runner().invoke(
        main, ["lti", "canvas-key", "--url", "https://peerline.example.edu/"]
    )
    assert result.exit_code == 0, result.output
    key = json.loads(result.stdout)
    base = "https://peerline.example.edu"
    assert key["title"] == "PeerLine"
    assert key["oidc_initiation_url"] == f"{base}/lti/login"
    assert key["target_link_uri"] == f"{base}/lti/launch"
    assert key["public_jwk_url"] == f"{base}/lti/jwks"
    assert key["scopes"] == []
    [extension] = key["extensions"]
    assert extension["platform"] == "canvas.instructure.com"
    assert extension["privacy_level"] == "anonymous"
    assert extension["domain"] == "peerline.example.edu"
    placements = {p["placement"]: p for p in extension["settings"]["placements"]}
    assert placements["course_navigation"]["message_type"] == "LtiResourceLinkRequest"
    assert placements["link_selection"]["message_type"] == "LtiDeepLinkingRequest"
    assert f"Redirect URIs: {base}/lti/launch" in result.stderr


def test_canvas_key_needs_an_https_url(stack):
    result = run(stack, "canvas-key", "--url", "http://peerline.example.edu")
    assert result.exit_code == 2 and "https" in result.output


def test_the_registration_url_needs_a_program_that_exists(stack):
    result = run(stack, "registration-url", "--program", "nope", "--url", "https://p.example")
    assert result.exit_code == 1 and "no program 'nope'" in result.output


def test_the_lms_plugin_wires_the_tool_and_its_commands(database_url, tmp_path, clock):
    app = make_app(database_url, tmp_path, clock, plugins=[("lms", lms_init_app)])
    assert app.test_client().get("/lti/jwks").json["keys"]
    result = app.test_cli_runner().invoke(main, ["lti", "platforms"])
    assert result.exit_code == 0 and "no LTI platforms registered" in result.output


def test_removing_a_deployment_then_the_platform_refuses_their_launches(stack):
    stack.register()
    platform = stack.platform
    run(stack, *register_args("--deployment", "second"))  # another platform, kept throughout
    ids = ["--issuer", platform.issuer, "--client-id", platform.client_id]
    form = platform.authorize(stack.login())  # a login in flight when the deployment goes
    gone = run(stack, "remove", *ids, "--deployment", platform.deployment_id)
    assert gone.exit_code == 0, gone.output
    assert f"removed deployment {platform.deployment_id}" in gone.output
    refused = stack.client.post("/lti/launch", data=form)
    assert refused.status_code == 403 and "could not open" in refused.get_data(as_text=True)
    again = run(stack, "remove", *ids, "--deployment", platform.deployment_id)
    assert again.exit_code == 1 and "no such deployment" in again.output

    assert run(stack, "remove", *ids).exit_code == 0
    assert stack.count("lti_states") == 0, "its logins in flight went with it"
    listed = run(stack, "platforms").output
    assert platform.issuer not in listed and "deployments: second" in listed
    login = stack.client.post(
        "/lti/login",
        data={"iss": platform.issuer, "login_hint": "h", "target_link_uri": "http://localhost/"},
    )
    assert login.status_code == 403
    unknown = run(stack, "remove", *ids)
    assert unknown.exit_code == 1 and "no platform with this issuer and client id" in unknown.output


def test_retiring_keys_keeps_the_newest_and_those_replaced_lately(stack):
    first = stack.client.get("/lti/jwks").json["keys"][0]["kid"]
    stack.clock.advance(hours=1)
    assert run(stack, "rotate-key").exit_code == 0
    stack.clock.advance(hours=30)
    assert run(stack, "rotate-key").exit_code == 0
    newest, middle, oldest = [k["kid"] for k in stack.client.get("/lti/jwks").json["keys"]]
    assert oldest == first
    stack.clock.advance(hours=2)
    retired = run(stack, "retire-keys")  # the middle key was replaced 2 hours ago: kept
    assert retired.exit_code == 0 and retired.output.strip() == f"retired 1 key(s): {first}"
    assert [k["kid"] for k in stack.client.get("/lti/jwks").json["keys"]] == [newest, middle]
    assert run(stack, "retire-keys", "--after-hours", "1").output.startswith("retired 1 key(s)")
    assert [k["kid"] for k in stack.client.get("/lti/jwks").json["keys"]] == [newest]
    assert run(stack, "retire-keys", "--after-hours", "1").output.strip() == "retired 0 key(s)"
    assert run(stack, "retire-keys", "--after-hours", "0").exit_code == 2
