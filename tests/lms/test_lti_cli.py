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
