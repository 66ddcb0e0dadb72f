"""Pure rules: identity encryption and rotation, program weeks, training currency, events."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from cryptography.fernet import Fernet

from core.crypto import IdentityCipher, new_secret_token, token_digest
from core.events import EventBus, OfferMade, RequestCreated
from core.services.capacity import week_start, weeks_between
from core.services.roster import training_state


def test_identities_decrypt_after_key_rotation_and_lookup_is_stable():
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    before = IdentityCipher([old], "s" * 40)
    ciphertext = before.encrypt("T1:U42")
    assert b"U42" not in ciphertext
    after = IdentityCipher([new, old], "s" * 40)
    assert after.decrypt(ciphertext) == "T1:U42"
    rotated = after.rotate(ciphertext)
    assert IdentityCipher([new], "s" * 40).decrypt(rotated) == "T1:U42"
    with pytest.raises(ValueError, match="cannot be decrypted"):
        IdentityCipher([new], "s" * 40).decrypt(ciphertext)
    assert before.lookup_hash("slack", "T1:U42") == after.lookup_hash("slack", "T1:U42")
    assert before.lookup_hash("slack", "T1:U42") != before.lookup_hash("teams", "T1:U42")
    assert IdentityCipher([old], "t" * 40).lookup_hash("slack", "T1:U42") != before.lookup_hash(
        "slack", "T1:U42"
    )


def test_tokens_are_unguessable_and_stored_as_digests():
    first, second = new_secret_token("plr_"), new_secret_token("plr_")
    assert first != second and len(first) > 40
    assert token_digest(first) != first and len(token_digest(first)) == 64


def test_program_weeks_start_on_local_monday_across_dst():
    zone = ZoneInfo("America/New_York")
    # Sunday 2026-03-08 is the spring-forward day; the week began Monday 2026-03-02 00:00 EST.
    assert week_start(datetime(2026, 3, 8, 12, tzinfo=UTC), zone) == datetime(
        2026, 3, 2, 5, tzinfo=UTC
    )
    weeks = weeks_between(datetime(2026, 3, 3, tzinfo=UTC), datetime(2026, 3, 12, tzinfo=UTC), zone)
    assert [w.start for w in weeks] == [
        datetime(2026, 3, 2, 5, tzinfo=UTC),
        datetime(2026, 3, 9, 4, tzinfo=UTC),  # EDT from the second week
    ]
    assert weeks[0].end == weeks[1].start


@dataclass
class FakeTraining:
    name: str
    completed_on: date
    expires_on: date | None


@dataclass
class FakeSupporter:
    trainings: list[FakeTraining] = field(default_factory=list)


def test_training_is_current_until_the_day_it_expires():
    supporter = FakeSupporter(
        [
            FakeTraining("Safeguarding", date(2025, 1, 1), date(2026, 6, 1)),
            FakeTraining("Foundations", date(2024, 1, 1), None),
        ]
    )
    required = ["safeguarding", "Foundations"]
    current = training_state(supporter, required, date(2026, 5, 31))  # type: ignore[arg-type]
    assert current.current and current.trained_until == date(2026, 6, 1)
    lapsed = training_state(supporter, required, date(2026, 6, 1))  # type: ignore[arg-type]
    assert not lapsed.current and lapsed.reasons == ("training lapsed: safeguarding",)
    missing = training_state(FakeSupporter(), ["Foundations"], date(2026, 1, 1))  # type: ignore[arg-type]
    assert missing.reasons == ("training missing: Foundations",)
    future = FakeSupporter([FakeTraining("Foundations", date(2026, 2, 1), None)])
    assert not training_state(future, ["Foundations"], date(2026, 1, 1)).current  # type: ignore[arg-type]


def test_renewed_training_extends_trained_until():
    supporter = FakeSupporter(
        [
            FakeTraining("Safeguarding", date(2024, 1, 1), date(2026, 1, 1)),
            FakeTraining("Safeguarding", date(2025, 12, 1), date(2028, 12, 1)),
        ]
    )
    state = training_state(supporter, ["Safeguarding"], date(2025, 12, 15))  # type: ignore[arg-type]
    assert state.trained_until == date(2028, 12, 1)


def test_event_bus_delivers_by_type_and_survives_a_failing_handler():
    bus, seen = EventBus(), []
    bus.subscribe(RequestCreated, seen.append)
    bus.subscribe(RequestCreated, lambda e: 1 / 0)
    bus.subscribe(RequestCreated, lambda e: seen.append("after"))
    event = RequestCreated(
        program_id=uuid.uuid4(),
        at=datetime.now(UTC),
        request_id=uuid.uuid4(),
        urgency="now",
        is_urgent=False,
    )
    bus.publish(event)
    bus.publish(
        OfferMade(
            program_id=uuid.uuid4(),
            at=datetime.now(UTC),
            offer_id=uuid.uuid4(),
            request_id=uuid.uuid4(),
            supporter_id=uuid.uuid4(),
            expires_at=datetime.now(UTC),
        )
    )
    assert seen == [event, "after"]
