"""Declarative base and column types shared by every table."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, MetaData, Uuid
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from core.db import UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


def new_id() -> uuid.UUID:
    return uuid.uuid4()


def id_column() -> Mapped[uuid.UUID]:
    return mapped_column(Uuid, primary_key=True, default=new_id)
