"""Conversation references: saved from each activity, used to message a person first."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select

from integrations.teams.storage import CONVERSATIONS

if TYPE_CHECKING:
    from core.runtime import Runtime


@dataclass(frozen=True)
class Reference:
    conversation_id: str
    service_url: str
    tenant_id: str


def user_key(runtime: Runtime, aad_object_id: str) -> str:
    """People are stored under the core's keyed hash, as requester identities are looked up."""
    return runtime.cipher.lookup_hash("teams", aad_object_id)


def remember(runtime: Runtime, activity: dict[str, Any]) -> None:
    """Keep (or refresh) where this person's 1:1 chat with the bot lives."""
    sender = activity.get("from") or {}
    conversation = activity.get("conversation") or {}
    tenant = ((activity.get("channelData") or {}).get("tenant") or {}).get("id")
    aad_id = sender.get("aadObjectId")
    if conversation.get("conversationType", "personal") != "personal":
        return  # only 1:1 chats: nothing about a request may land in a shared conversation
    if not (aad_id and conversation.get("id") and activity.get("serviceUrl") and tenant):
        return
    store(
        runtime,
        str(aad_id),
        Reference(str(conversation["id"]), str(activity["serviceUrl"]), str(tenant)),
    )


def store(runtime: Runtime, aad_object_id: str, reference: Reference) -> None:
    """Keep where this person's 1:1 chat with the bot is, replacing what was known."""
    key = user_key(runtime, aad_object_id)
    with runtime.engine.begin() as connection:
        connection.execute(delete(CONVERSATIONS).where(CONVERSATIONS.c.user_key == key))
        connection.execute(
            CONVERSATIONS.insert().values(
                user_key=key,
                conversation_id=reference.conversation_id[:300],
                service_url=reference.service_url[:300],
                tenant_id=reference.tenant_id[:64],
                updated_at=runtime.clock.now(),
            )
        )


def reference_for(runtime: Runtime, aad_object_id: str) -> Reference | None:
    """Where to message this person, if they have ever talked to the bot."""
    with runtime.engine.connect() as connection:
        row = connection.execute(
            select(CONVERSATIONS).where(
                CONVERSATIONS.c.user_key == user_key(runtime, aad_object_id)
            )
        ).first()
    if row is None:
        return None
    return Reference(row.conversation_id, row.service_url, row.tenant_id)
