"""Deep Linking (an instructor places PeerLine in a course) and the tool's own key set."""

from __future__ import annotations

import json
import re
from html import unescape

import jwt
import pytest
from sqlalchemy import text

from core.runtime import runtime
from tests.fakes.lti_platform import CLAIM, DL_CLAIM, lti_stack


@pytest.fixture
def stack(database_url, tmp_path, clock):
    with lti_stack(database_url, tmp_path, clock) as built:
        built.register()
        yield built


def posted_form(page: str) -> tuple[str, str]:
    """The auto-submitting form's action and its JWT field."""
    action = re.search(r'<form method="post" action="([^"]+)">', page)
    token = re.search(r'<input type="hidden" name="JWT" value="([^"]+)">', page)
    assert action and token, page
    return unescape(action.group(1)), unescape(token.group(1))


def verify_with_tool_jwks(stack, token: str) -> dict:
    keys = stack.client.get("/lti/jwks").json["keys"]
    kid = jwt.get_unverified_header(token)["kid"]
    entry = next(key for key in keys if key["kid"] == kid)
    public = jwt.PyJWK(entry, algorithm="RS256").key
    return jwt.decode(
        token,
        public,
        algorithms=["RS256"],
        audience=stack.platform.issuer,
        options={"verify_exp": False, "verify_iat": False},  # signed on the frozen test clock
    )


def test_a_deep_linking_request_gets_a_signed_resource_link_back(stack):
    form = stack.platform.authorize(stack.login(), stack.platform.deep_linking_claims())
    response = stack.client.post("/lti/launch", data=form)
    assert response.status_code == 200, response.get_data(as_text=True)
    page = response.get_data(as_text=True)
    action, token = posted_form(page)
    assert action == stack.platform.return_url
    policy = response.headers["Content-Security-Policy"]
    assert f"form-action {stack.platform.url}" in policy
    assert f"frame-ancestors {stack.platform.url}" in policy, "framed by the registered LMS only"
    nonce = re.search(r"script-src 'nonce-([^']+)'", policy)
    assert nonce and f'<script nonce="{nonce.group(1)}">document.forms[0].submit();' in page

    claims = verify_with_tool_jwks(stack, token)
    now = int(stack.clock.now().timestamp())
    assert claims["iss"] == stack.platform.client_id and claims["aud"] == stack.platform.issuer
    assert claims["iat"] == now and now < claims["exp"] <= now + 600 and claims["nonce"]
    assert claims[CLAIM + "message_type"] == "LtiDeepLinkingResponse"
    assert claims[CLAIM + "version"] == "1.3.0"
    assert claims[CLAIM + "deployment_id"] == stack.platform.deployment_id
    assert claims[DL_CLAIM + "data"] == "opaque-platform-data"
    [item] = claims[DL_CLAIM + "content_items"]
    assert item["type"] == "ltiResourceLink" and item["title"] == "Book a peer chat"
    assert item["url"] == "http://localhost/lti/launch"
    assert stack.count("lti_nonces") == 1  # the request's nonce is used up like any launch


def test_the_platform_data_is_left_out_when_the_platform_sent_none(stack):
    overrides = stack.platform.deep_linking_claims(data=None)
    form = stack.platform.authorize(stack.login(), overrides)
    _, token = posted_form(stack.client.post("/lti/launch", data=form).get_data(as_text=True))
    assert DL_CLAIM + "data" not in verify_with_tool_jwks(stack, token)


@pytest.mark.parametrize(
    "settings",
    [
        {"accept_types": ["link", "file"]},
        {"deep_link_return_url": "javascript:alert(1)"},
        {"deep_link_return_url": None},
    ],
    ids=["no resource links accepted", "unsafe return url", "no return url"],
)
def test_a_deep_linking_request_peerline_cannot_answer_is_refused(stack, settings):
    overrides = stack.platform.deep_linking_claims(**settings)
    form = stack.platform.authorize(stack.login(), overrides)
    response = stack.client.post("/lti/launch", data=form)
    assert response.status_code == 400
    assert "Try opening PeerLine again from your course." in response.get_data(as_text=True)
    assert stack.count("lti_nonces") == 0


def test_the_tool_key_set_publishes_public_keys_only_with_a_stable_kid(stack):
    first = stack.client.get("/lti/jwks")
    assert first.status_code == 200 and "max-age" in first.headers["Cache-Control"]
    [key] = first.json["keys"]
    assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["use"] == "sig"
    assert set(key) == {"kty", "n", "e", "kid", "alg", "use"}  # no private member
    assert stack.client.get("/lti/jwks").json == first.json
    with runtime(stack.app).engine.connect() as connection:
        stored = connection.execute(text("SELECT private_key FROM lti_tool_keys")).scalar_one()
    assert "PRIVATE KEY" not in stored  # encrypted with the identity keys
    assert "PRIVATE KEY" in runtime(stack.app).cipher.decrypt(stored.encode())


def test_a_rotated_key_signs_and_the_old_one_stays_published(stack):
    old_kid = stack.client.get("/lti/jwks").json["keys"][0]["kid"]
    stack.clock.advance(minutes=1)
    result = stack.app.test_cli_runner().invoke(args=["lti", "rotate-key"])
    assert result.exit_code == 0, result.output
    kids = [key["kid"] for key in stack.client.get("/lti/jwks").json["keys"]]
    assert len(kids) == 2 and kids[1] == old_kid and kids[0] in result.output
    form = stack.platform.authorize(stack.login(), stack.platform.deep_linking_claims())
    page = stack.client.post("/lti/launch", data=form).get_data(as_text=True)
    _, token = posted_form(page)
    assert jwt.get_unverified_header(token)["kid"] == kids[0]
    assert verify_with_tool_jwks(stack, token)[CLAIM + "message_type"]


def test_the_key_set_document_is_plain_json(stack):
    body = json.loads(stack.client.get("/lti/jwks").get_data(as_text=True))
    assert list(body) == ["keys"]
