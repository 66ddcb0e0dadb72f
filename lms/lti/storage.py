"""The LTI tables: platforms, deployments, logins in flight, used nonces, the tool's keys.

Found by the core's migrations through the `peerline.schemas` entry point; the revisions
live in `migrations/` on the `lms_lti` branch. Nothing here names a person: a launch
leaves only its nonce behind, and a login in flight only a hash of its state.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
)

from core.db import UTCDateTime

metadata = MetaData()

PLATFORMS = Table(
    "lti_platforms",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("program_id", Uuid, nullable=False, index=True),  # no foreign key: plugins keep apart
    Column("issuer", String(255), nullable=False),
    Column("client_id", String(255), nullable=False),
    Column("auth_login_url", String(1000), nullable=False),
    Column("auth_token_url", String(1000), nullable=False),
    Column("jwks_url", String(1000), nullable=False),
    # registered dynamically without a deployment id (Canvas deploys after registering):
    # deployments of this client id are recorded as their first signed launch arrives
    Column("adopts_deployments", Boolean, nullable=False),
    Column("registered_by", String(16), nullable=False),  # cli | dynamic
    Column("product", String(64)),  # the platform's product_family_code, when it said
    Column("registered_at", UTCDateTime(), nullable=False),
    UniqueConstraint("issuer", "client_id", name="lti_platforms_issuer_client"),
    comment="LMS registrations: whose signed launches PeerLine trusts, and for which program",
)

DEPLOYMENTS = Table(
    "lti_deployments",
    metadata,
    Column(
        "platform_id",
        Uuid,
        ForeignKey("lti_platforms.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("deployment_id", String(255), primary_key=True),
    Column("added_at", UTCDateTime(), nullable=False),
    comment="Where a platform installed PeerLine; launches from other deployments are refused",
)

STATES = Table(
    "lti_states",
    metadata,
    Column("state_hash", String(64), primary_key=True),  # SHA-256 of the OIDC state
    Column("nonce", String(64), nullable=False),
    Column(
        "platform_id",
        Uuid,
        ForeignKey("lti_platforms.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("expires_at", UTCDateTime(), nullable=False, index=True),
    comment="Logins in flight: the launch must bring back a state and nonce issued here",
)

NONCES = Table(
    "lti_nonces",
    metadata,
    Column("nonce", String(128), primary_key=True),
    Column("expires_at", UTCDateTime(), nullable=False, index=True),
    comment="Nonces of accepted launches, kept until their token expires: no id_token twice",
)

TOOL_KEYS = Table(
    "lti_tool_keys",
    metadata,
    Column("kid", String(64), primary_key=True),  # the RFC 7638 thumbprint of the public key
    Column("private_key", Text, nullable=False),  # PEM, encrypted with the identity keys
    Column("public_jwk", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    comment="The tool's RSA keys: the newest signs, all are published at /lti/jwks",
)
