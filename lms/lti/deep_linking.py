"""Deep Linking: an instructor places PeerLine in a course; we answer with one signed link.

The response is a JWT signed with the tool's newest key (the platform checks it against
`/lti/jwks`): issued by our client id, for the platform's issuer, carrying one
`ltiResourceLink` content item that launches PeerLine's booking page.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import jwt

from lms.lti.keys import ALGORITHM, ToolKeys
from lms.lti.tool import LINK_TITLE
from lms.lti.validation import CLAIM, DL_CLAIM, Launch

if TYPE_CHECKING:
    from datetime import datetime

RESPONSE_LIFETIME = timedelta(minutes=5)
LINK_TEXT = "A confidential chat with a trained peer supporter. Not a crisis service."


def response_jwt(keys: ToolKeys, launch: Launch, launch_url: str, now: datetime) -> str:
    """The signed `LtiDeepLinkingResponse` for the platform's `deep_link_return_url`."""
    key = keys.signing_key()
    item = {"type": "ltiResourceLink", "title": LINK_TITLE, "text": LINK_TEXT, "url": launch_url}
    claims: dict[str, Any] = {
        "iss": launch.platform.client_id,
        "aud": launch.platform.issuer,
        "iat": int(now.timestamp()),
        "exp": int((now + RESPONSE_LIFETIME).timestamp()),
        "nonce": secrets.token_urlsafe(16),
        CLAIM + "message_type": "LtiDeepLinkingResponse",
        CLAIM + "version": "1.3.0",
        CLAIM + "deployment_id": launch.deployment_id,
        DL_CLAIM + "content_items": [item],
    }
    if launch.return_data is not None:
        claims[DL_CLAIM + "data"] = launch.return_data
    return jwt.encode(claims, key.private, algorithm=ALGORITHM, headers={"kid": key.kid})
