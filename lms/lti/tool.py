"""What PeerLine tells an LMS about itself: its URLs, its Dynamic Registration request, and the
Canvas developer key JSON. PeerLine asks for no personal claims (only `iss` and `sub`), so
platforms send neither names nor e-mail addresses, and for no LTI Advantage scopes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from lms.lti.validation import DEEP_LINKING, RESOURCE_LINK

TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"
NAME = "PeerLine"
DESCRIPTION = (
    "Book a confidential chat with a trained peer supporter. Supporters see an alias, "
    "never your name. Not a crisis service."
)
LINK_TITLE = "Book a peer chat"
NAVIGATION_LABEL = "Peer support"
CANVAS = "canvas.instructure.com"


@dataclass(frozen=True)
class ToolUrls:
    """The tool's endpoints under one external base URL (https in production)."""

    base: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "base", self.base.rstrip("/"))

    @property
    def login(self) -> str:
        return f"{self.base}/lti/login"

    @property
    def launch(self) -> str:
        return f"{self.base}/lti/launch"

    @property
    def jwks(self) -> str:
        return f"{self.base}/lti/jwks"

    @property
    def register(self) -> str:
        return f"{self.base}/lti/register"

    @property
    def domain(self) -> str:
        return urlsplit(self.base).netloc


def registration_request(urls: ToolUrls, product: str | None = None) -> dict[str, Any]:
    """The client registration PeerLine POSTs to a platform (LTI Dynamic Registration 1.0)."""
    navigation = [f"https://{CANVAS}/lti/course_navigation"] if product == "canvas" else []
    return {
        "application_type": "web",
        "response_types": ["id_token"],
        "grant_types": ["implicit", "client_credentials"],
        "initiate_login_uri": urls.login,
        "redirect_uris": [urls.launch],
        "client_name": NAME,
        "jwks_uri": urls.jwks,
        "token_endpoint_auth_method": "private_key_jwt",
        "scope": "",
        TOOL_CONFIGURATION: {
            "domain": urls.domain,
            "description": DESCRIPTION,
            "target_link_uri": urls.launch,
            "claims": ["iss", "sub"],
            "messages": [
                {
                    "type": RESOURCE_LINK,
                    "target_link_uri": urls.launch,
                    "label": NAVIGATION_LABEL,
                    **({"placements": navigation} if navigation else {}),
                },
                {
                    "type": DEEP_LINKING,
                    "target_link_uri": urls.launch,
                    "label": LINK_TITLE,
                    "placements": ["ContentArea"],
                },
            ],
            f"https://{CANVAS}/lti/privacy_level": "anonymous",
        },
    }


def canvas_developer_key(urls: ToolUrls) -> dict[str, Any]:
    """Canvas "LTI Key" JSON: paste under Developer Keys → + LTI Key → Paste JSON."""
    return {
        "title": NAME,
        "description": DESCRIPTION,
        "oidc_initiation_url": urls.login,
        "target_link_uri": urls.launch,
        "public_jwk_url": urls.jwks,
        "scopes": [],
        "custom_fields": {},
        "extensions": [
            {
                "domain": urls.domain,
                "tool_id": "peerline",
                "platform": CANVAS,
                "privacy_level": "anonymous",
                "settings": {
                    "text": NAVIGATION_LABEL,
                    "placements": [
                        {
                            "placement": "course_navigation",
                            "message_type": RESOURCE_LINK,
                            "target_link_uri": urls.launch,
                            "text": NAVIGATION_LABEL,
                            "default": "enabled",
                        },
                        {
                            "placement": "link_selection",
                            "message_type": DEEP_LINKING,
                            "target_link_uri": urls.launch,
                            "text": LINK_TITLE,
                        },
                    ],
                },
            }
        ],
    }
