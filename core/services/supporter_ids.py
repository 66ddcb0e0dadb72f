"""Whose rows a bulk read is about: a list of supporter ids, or a query that selects them.

A program-wide slot search is about every active supporter of the program. Thousands of ids
bound one by one into `IN (…)` cost more than the rows they fetch (and SQLite plans such a
list poorly); the query that selected those supporters, as a subquery, costs nothing more.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import Select

SupporterIds = Sequence[uuid.UUID] | Select[tuple[uuid.UUID]]


def certainly_none(ids: SupporterIds) -> bool:
    """An empty list: nothing to read (a query is always run)."""
    return not isinstance(ids, Select) and not ids
