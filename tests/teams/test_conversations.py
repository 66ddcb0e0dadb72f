"""Conversation references: kept per person under a hash, only for 1:1 chats."""

from __future__ import annotations

from sqlalchemy import select

from core.runtime import runtime
from integrations.teams.conversations import reference_for, remember
from integrations.teams.storage import CONVERSATIONS

AAD = "6f1e2d3c-0000-4000-8000-00000000abcd"


def activity(conversation_type: str = "personal", conversation_id: str = "a:1:personal") -> dict:
    return {
        "type": "message",
        "serviceUrl": "https://smba.trafficmanager.net/emea/",
        "from": {"id": "29:abc", "aadObjectId": AAD, "name": "Real Name"},
        "conversation": {"id": conversation_id, "conversationType": conversation_type},
        "channelData": {"tenant": {"id": "tenant-1"}},
    }


def test_a_personal_chat_is_remembered_and_refreshed_under_a_hash(app):
    current = runtime(app)
    assert reference_for(current, AAD) is None
    remember(current, activity())
    remember(current, activity(conversation_id="a:2:personal"))
    found = reference_for(current, AAD)
    assert found is not None and found.conversation_id == "a:2:personal"
    assert found.service_url.startswith("https://smba") and found.tenant_id == "tenant-1"
    with current.engine.connect() as connection:
        rows = connection.execute(select(CONVERSATIONS)).all()
    assert len(rows) == 1 and AAD not in str(rows[0]) and "Real Name" not in str(rows[0])


def test_a_group_or_channel_conversation_is_never_used_for_anyone(app):
    current = runtime(app)
    remember(current, activity("channel", "19:team-thread"))
    remember(current, activity("groupChat", "19:group"))
    assert reference_for(current, AAD) is None
