"""Small-cell suppression, so no figure an admin sees counts a group smaller than k.

Pure functions, no database. The rules:

* Primary: a count with ``0 < value < k`` is suppressed, totals included.
* Zero is shown. A true 0 names nobody and is not a small group; hiding it would only
  make tables harder to read. (A 0 may still be hidden when nothing else can protect
  a neighbour, see below.)
* Secondary: every shown total is the sum of its parts (row cells, column cells, the
  row totals, the column totals; a series' weeks). While any suppressed figure can be
  computed back from the shown ones -- a relation with exactly one hidden member, or any
  combination of relations, checked by exact elimination over the rationals -- one more
  figure of a relation holding it is suppressed: the smallest non-zero shown part of the
  relation with the fewest hidden members; its non-zero total when every other part is 0
  (a 0 only when nothing else is left). Repeat until stable.

Suppressed values never leave this module: a suppressed `Cell` has no value.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

Key = Hashable


@dataclass(frozen=True)
class Cell:
    """A figure to show; `value` is None when it is suppressed."""

    value: int | None

    @property
    def suppressed(self) -> bool:
        return self.value is None


@dataclass(frozen=True)
class Relation:
    """A shown total and the parts it is the sum of."""

    total: Key
    parts: tuple[Key, ...]

    def members(self) -> tuple[Key, ...]:
        return (*self.parts, self.total)


@dataclass(frozen=True)
class Grid:
    """A table of counts with its row totals, column totals and grand total, suppressed."""

    cells: list[list[Cell]]
    row_totals: list[Cell]
    column_totals: list[Cell]
    total: Cell


def suppress(values: Mapping[Key, int], relations: Sequence[Relation], k: int) -> set[Key]:
    """The keys to hide: every count below k and whatever would give one of them away."""
    if k < 1:
        raise ValueError("k must be at least 1")
    hidden = {key for key, value in values.items() if 0 < value < k}
    while True:
        single = _single(relations, hidden)
        if single is not None:
            extra = _protector(single[0], values, [single[1]], hidden)
        else:
            exposed = _determined(sorted(hidden, key=repr), relations)
            if exposed is None:
                return hidden
            extra = _protector(exposed, values, relations, hidden)
        if extra is None:  # nothing left to hide in its relations: hide any shown figure
            extra = min(
                (key for key in values if key not in hidden),
                key=lambda key: (values[key], repr(key)),
            )
        hidden.add(extra)


def _single(relations: Sequence[Relation], hidden: set[Key]) -> tuple[Key, Relation] | None:
    """A relation with exactly one hidden member: that member equals a sum of shown ones."""
    for relation in relations:
        inside = [key for key in relation.members() if key in hidden]
        if len(inside) == 1:
            return inside[0], relation
    return None


def _protector(
    exposed: Key, values: Mapping[Key, int], relations: Sequence[Relation], hidden: set[Key]
) -> Key | None:
    """The shown figure to hide so `exposed` gains an unknown beside it."""
    best: tuple[tuple[int, int, int, int, str], Key] | None = None
    for relation in relations:
        if exposed not in relation.members():
            continue
        crowd = sum(1 for key in relation.members() if key in hidden)
        for key in relation.members():
            if key in hidden:
                continue
            is_total = int(key == relation.total)
            rank = (crowd, int(values[key] == 0), is_total, values[key], repr(key))
            if best is None or rank < best[0]:
                best = (rank, key)
    return None if best is None else best[1]


def _determined(hidden: list[Key], relations: Sequence[Relation]) -> Key | None:
    """A hidden figure the shown ones pin down exactly, if there is one."""
    if not hidden:
        return None
    column = {key: n for n, key in enumerate(hidden)}
    matrix: list[list[Fraction]] = []
    for relation in relations:
        row = [Fraction(0)] * len(hidden)
        for part in relation.parts:
            if part in column:
                row[column[part]] += 1
        if relation.total in column:
            row[column[relation.total]] -= 1
        if any(row):
            matrix.append(row)
    for pivot, row in _reduced(matrix, len(hidden)):
        if sum(1 for value in row if value) == 1:
            return hidden[pivot]
    return None


def _reduced(matrix: list[list[Fraction]], width: int) -> list[tuple[int, list[Fraction]]]:
    """Reduced row echelon form: (pivot column, row) for each non-zero row."""
    rows = [list(row) for row in matrix]
    pivots: list[int] = []
    for col in range(width):
        top = len(pivots)
        found = next((i for i in range(top, len(rows)) if rows[i][col]), None)
        if found is None:
            continue
        rows[top], rows[found] = rows[found], rows[top]
        lead = rows[top][col]
        rows[top] = [value / lead for value in rows[top]]
        for i, row in enumerate(rows):
            if i != top and row[col]:
                factor = row[col]
                rows[i] = [a - factor * b for a, b in zip(row, rows[top], strict=True)]
        pivots.append(col)
    return [(col, rows[n]) for n, col in enumerate(pivots)]


def suppress_grid(counts: Sequence[Sequence[int]], k: int) -> Grid:
    """A rows x columns table shown with row, column and grand totals."""
    height = len(counts)
    width = len(counts[0]) if counts else 0
    values: dict[Key, int] = {}
    for i, row in enumerate(counts):
        if len(row) != width:
            raise ValueError("every row needs the same number of columns")
        for j, value in enumerate(row):
            values[("cell", i, j)] = _count(value)
        values[("row", i)] = sum(row)
    for j in range(width):
        values[("col", j)] = sum(row[j] for row in counts)
    values[("total",)] = sum(sum(row) for row in counts)
    relations = [
        *(Relation(("row", i), tuple(("cell", i, j) for j in range(width))) for i in range(height)),
        *(Relation(("col", j), tuple(("cell", i, j) for i in range(height))) for j in range(width)),
        Relation(("total",), tuple(("row", i) for i in range(height))),
        Relation(("total",), tuple(("col", j) for j in range(width))),
    ]
    hidden = suppress(values, relations, k)

    def cell(key: Key) -> Cell:
        return Cell(None if key in hidden else values[key])

    return Grid(
        cells=[[cell(("cell", i, j)) for j in range(width)] for i in range(height)],
        row_totals=[cell(("row", i)) for i in range(height)],
        column_totals=[cell(("col", j)) for j in range(width)],
        total=cell(("total",)),
    )


def suppress_series(counts: Sequence[int], k: int) -> tuple[list[Cell], Cell]:
    """A list of counts (weeks, bands, ratings) shown with their total."""
    values: dict[Key, int] = {("part", n): _count(value) for n, value in enumerate(counts)}
    values[("total",)] = sum(counts)
    relation = Relation(("total",), tuple(("part", n) for n in range(len(counts))))
    hidden = suppress(values, [relation], k)
    parts = [Cell(None if ("part", n) in hidden else counts[n]) for n in range(len(counts))]
    return parts, Cell(None if ("total",) in hidden else values[("total",)])


def suppress_alone(value: int, k: int) -> Cell:
    """A figure shown with no total beside it."""
    return Cell(None if 0 < _count(value) < k else value)


def _count(value: int) -> int:
    if value < 0:
        raise ValueError("counts are never negative")
    return value
