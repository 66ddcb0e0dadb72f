"""Tables. Only the core's services and API import these."""

from core.models.access import ApiToken
from core.models.account import ConsoleAccount, ConsoleSession
from core.models.audit import AuditEvent
from core.models.base import Base
from core.models.booking import Booking
from core.models.busy import ExternalBusy
from core.models.calendar import RequesterCalendar, SupporterCalendar
from core.models.delivery import Delivery
from core.models.idempotency import IdempotencyRecord
from core.models.program import Program
from core.models.request import Feedback, Offer, RequesterIdentity, SupportRequest
from core.models.supporter import (
    AvailabilityOverride,
    AvailabilityRule,
    Supporter,
    SupporterContact,
    TrainingRecord,
)

__all__ = [
    "ApiToken",
    "AuditEvent",
    "AvailabilityOverride",
    "AvailabilityRule",
    "Base",
    "Booking",
    "ConsoleAccount",
    "ConsoleSession",
    "Delivery",
    "ExternalBusy",
    "Feedback",
    "IdempotencyRecord",
    "Offer",
    "Program",
    "RequesterCalendar",
    "RequesterIdentity",
    "SupportRequest",
    "Supporter",
    "SupporterCalendar",
    "SupporterContact",
    "TrainingRecord",
]
