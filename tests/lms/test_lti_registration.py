"""LTI Dynamic Registration end to end against the fake platform, and its refusals."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from core.runtime import runtime
from lms.lti import platforms
from lms.lti.registration import registration_key
from tests.fakes.lti_platform import CLAIM, lti_stack, new_platform
from tests.helpers import make_world

TOOL = "https://purl.imsglobal.org/spec/lti-tool-configuration"
PUBLIC = "https://peerline.example.edu"


@pytest.fixture
def stack(database_url, tmp_path, clock):
    with lti_stack(database_url, tmp_path, clock, public_url=PUBLIC) as built:
        yield built


def registration_link(stack, program: str = "uni") -> dict[str, str]:
    """The link `peerline lti registration-url` prints, as query parameters."""
    result = stack.app.test_cli_runner().invoke(
        args=["lti", "registration-url", "--program", program]
    )
    assert result.exit_code == 0, result.output
    url = result.output.strip()
    assert url.startswith(f"{PUBLIC}/lti/register?")
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def register(stack, platform=None, **params: str):
    target = platform or stack.platform
    query = {
        **registration_link(stack),
        "openid_configuration": target.openid_configuration_url,
        "registration_token": target.registration_token,
        **params,
    }
    return stack.client.get("/lti/register", query_string=query)


def launches(stack, platform=None, deployment: str | None = None, hinted: bool = True) -> bool:
    """A login and launch from `deployment` (named at login too, unless not `hinted`)."""
    target = platform or stack.platform
    deployment = deployment or target.deployment_id
    location = stack.login(target, lti_deployment_id=deployment if hinted else "")
    form = target.authorize(location, {CLAIM + "deployment_id": deployment})
    return stack.client.post("/lti/launch", data=form).status_code == 303


def test_dynamic_registration_installs_the_platform_in_one_step(stack):
    response = register(stack)
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page
    assert 'postMessage({subject: "org.imsglobal.lti.close"}, "*")' in page
    assert "(window.opener || window.parent)" in page and "uni" in page
    assert stack.platform.registration_auth == ["Bearer reg-token-secret"]

    [sent] = stack.platform.registrations
    assert sent["application_type"] == "web" and sent["response_types"] == ["id_token"]
    assert sent["grant_types"] == ["implicit", "client_credentials"]
    assert sent["token_endpoint_auth_method"] == "private_key_jwt"
    assert sent["initiate_login_uri"] == f"{PUBLIC}/lti/login"
    assert sent["redirect_uris"] == [f"{PUBLIC}/lti/launch"]
    assert sent["jwks_uri"] == f"{PUBLIC}/lti/jwks"
    assert sent["scope"] == ""
    tool = sent[TOOL]
    assert tool["domain"] == "peerline.example.edu"
    assert tool["target_link_uri"] == f"{PUBLIC}/lti/launch"
    assert tool["claims"] == ["iss", "sub"]  # no names, no e-mail addresses
    types = {message["type"]: message for message in tool["messages"]}
    assert set(types) == {"LtiResourceLinkRequest", "LtiDeepLinkingRequest"}
    assert types["LtiDeepLinkingRequest"]["target_link_uri"] == f"{PUBLIC}/lti/launch"

    [platform] = platforms.all_platforms(runtime(stack.app))
    assert platform.issuer == stack.platform.issuer
    assert platform.client_id == stack.platform.client_id
    assert platform.auth_login_url == stack.platform.auth_url
    assert platform.jwks_url == stack.platform.jwks_url
    assert platform.deployments == ("deployment-1",) and not platform.adopts_deployments
    assert platform.registered_by == "dynamic" and platform.product == "moodle"
    assert launches(stack)
    assert not launches(stack, deployment="another-deployment", hinted=False)


def test_a_platform_that_deploys_later_has_its_deployments_adopted(stack):
    """Canvas answers without a deployment id: the admin enables the key afterwards."""
    canvas = new_platform(stack, client_id="10000000000042", product="canvas")
    canvas.returns_deployment = False
    assert register(stack, canvas).status_code == 200
    [sent] = canvas.registrations
    resource_link = sent[TOOL]["messages"][0]
    assert resource_link["placements"] == ["https://canvas.instructure.com/lti/course_navigation"]
    [platform] = platforms.all_platforms(runtime(stack.app))
    assert platform.deployments == () and platform.adopts_deployments
    assert launches(stack, canvas, "17:8865aa05b4b79b64a91a86042e43af5ea8ae79eb")
    assert launches(stack, canvas, "18:0f3c")
    [platform] = platforms.all_platforms(runtime(stack.app))
    assert platform.deployments == ("17:8865aa05b4b79b64a91a86042e43af5ea8ae79eb", "18:0f3c")


def test_the_only_school_program_is_the_default(stack):
    key = registration_key(runtime(stack.app), "uni")
    query = {
        "key": key,
        "openid_configuration": stack.platform.openid_configuration_url,
        "registration_token": stack.platform.registration_token,
    }
    assert stack.client.get("/lti/register", query_string=query).status_code == 200
    make_world(stack.app, stack.client, slug="college", name="College", kind="school")
    assert stack.client.get("/lti/register", query_string=query).status_code == 400


def refused(stack, response, status: int) -> None:
    page = response.get_data(as_text=True)
    assert response.status_code == status, page
    assert "<h1>PeerLine could not be registered</h1>" in page
    assert "org.imsglobal.lti.close" not in page and "reg-token-secret" not in page
    assert platforms.all_platforms(runtime(stack.app)) == []


@pytest.mark.parametrize(
    "params",
    [{"key": "0" * 32}, {"key": ""}, {"program": "acme-unknown"}],
    ids=["wrong key", "no key", "unknown program"],
)
def test_a_registration_link_that_is_not_ours_is_refused_before_any_call(stack, params):
    status = 400 if "program" in params else 403
    refused(stack, register(stack, **params), status)
    assert stack.platform.fetches == {}


def test_a_key_for_one_program_does_not_register_another(stack):
    make_world(stack.app, stack.client, slug="college", name="College", kind="school")
    refused(stack, register(stack, program="college"), 403)


def test_an_issuer_on_another_host_is_refused(stack):
    stack.platform.issuer_override = "https://lms.example.com"
    refused(stack, register(stack), 400)
    assert stack.platform.registrations == []


@pytest.mark.parametrize(
    "config_url",
    ["http://lms.example.com/.well-known/openid-configuration", "file:///etc/passwd", ""],
    ids=["plain http", "file", "missing"],
)
def test_a_configuration_url_that_is_not_https_is_refused(stack, config_url):
    refused(stack, register(stack, openid_configuration=config_url), 400)


def test_a_platform_that_refuses_the_token_leaves_nothing_behind(stack):
    refused(stack, register(stack, registration_token="wrong-token"), 502)


def test_a_platform_that_cannot_be_reached_leaves_nothing_behind(stack):
    url = stack.platform.openid_configuration_url
    stack.platform.__exit__()
    refused(stack, register(stack, openid_configuration=url), 502)
