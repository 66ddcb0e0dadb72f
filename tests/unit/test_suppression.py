"""Small-cell suppression: primary, complementary and chained, checked by example and property."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.services.suppression import (
    Relation,
    suppress,
    suppress_alone,
    suppress_grid,
    suppress_series,
)

K = 5


def shown(cells):
    return [cell.value for cell in cells]


def test_large_counts_and_zeros_are_shown():
    grid = suppress_grid([[10, 0], [7, 12]], K)
    assert [shown(row) for row in grid.cells] == [[10, 0], [7, 12]]
    assert shown(grid.row_totals) == [10, 19]
    assert shown(grid.column_totals) == [17, 12]
    assert grid.total.value == 29


def test_a_row_with_one_small_cell_hides_its_smallest_other_cell_too():
    grid = suppress_grid([[3, 9, 20], [10, 10, 10], [8, 11, 12]], K)
    row = grid.cells[0]
    assert row[0].suppressed, "3 < 5: primary"
    assert row[1].suppressed, "9 is the smallest other cell: else 3 = 32 - 9 - 20"
    assert not row[2].suppressed
    assert grid.row_totals[0].value == 32


def test_complementary_cell_in_the_column_too():
    grid = suppress_grid([[3, 9, 20], [10, 10, 10], [8, 11, 12]], K)
    hidden = {(i, j) for i, row in enumerate(grid.cells) for j, c in enumerate(row) if c.suppressed}
    # columns 0 and 1 each held one hidden cell; row 2 (8, 11) are the smallest others, and a
    # 2x2 block of hidden cells is what a table with all its totals needs
    assert hidden == {(0, 0), (0, 1), (2, 0), (2, 1)}
    for relation_cells in ([grid.cells[i][0] for i in range(3)], grid.cells[2]):
        assert sum(c.suppressed for c in relation_cells) != 1


def test_column_chain_reaches_stability():
    grid = suppress_grid([[2, 30], [40, 50], [60, 1]], K)
    for i, row in enumerate(grid.cells):
        assert sum(c.suppressed for c in [*row, grid.row_totals[i]]) != 1
    for j in range(2):
        column = [grid.cells[i][j] for i in range(3)] + [grid.column_totals[j]]
        assert sum(c.suppressed for c in column) != 1


def test_small_total_is_suppressed_with_its_parts():
    grid = suppress_grid([[1, 2], [20, 30]], K)
    assert grid.row_totals[0].suppressed
    assert grid.cells[0][0].suppressed and grid.cells[0][1].suppressed
    assert grid.total.value == 53
    # the row totals relation (3 + 50 = 53) must not give the hidden 3 away
    assert grid.row_totals[1].suppressed


def test_series_with_one_small_week_hides_the_smallest_other_week():
    parts, total = suppress_series([12, 3, 8, 0, 20], K)
    assert shown(parts) == [12, None, None, 0, 20]
    assert total.value == 43


def test_series_with_a_small_total_hides_everything_small():
    parts, total = suppress_series([1, 0, 2], K)
    assert shown(parts) == [None, 0, None]
    assert total.suppressed


def test_a_figure_alone_is_hidden_below_k_only():
    assert suppress_alone(4, K).suppressed
    assert suppress_alone(0, K).value == 0
    assert suppress_alone(5, K).value == 5


def test_programs_may_raise_k():
    parts, _ = suppress_series([6, 20, 30], 10)
    assert parts[0].suppressed and parts[1].suppressed and parts[2].value == 30


def test_combinations_of_relations_are_audited():
    # a + b = t1 (t1 shown), b = t2 (t2 hidden but t2 + c = t3 shown, c shown)
    values = {"a": 3, "b": 6, "t1": 9, "c": 7, "t2": 6, "t3": 13}
    relations = [Relation("t1", ("a", "b")), Relation("t2", ("b",)), Relation("t3", ("t2", "c"))]
    hidden = suppress(values, relations, K)
    assert "a" in hidden and "b" in hidden
    assert "t2" in hidden and "c" in hidden, "else b = 13 - 7 and a = 9 - b"


def test_bad_input_is_refused():
    with pytest.raises(ValueError):
        suppress_series([-1, 3], K)
    with pytest.raises(ValueError):
        suppress_grid([[1, 2], [3]], K)


grids = st.integers(1, 5).flatmap(
    lambda height: st.integers(1, 4).flatmap(
        lambda width: st.lists(
            st.lists(st.integers(0, 15), min_size=width, max_size=width),
            min_size=height,
            max_size=height,
        )
    )
)


@settings(max_examples=200, deadline=None)
@given(grids, st.integers(5, 8))
def test_no_hidden_cell_is_its_total_minus_the_visible_cells(counts, k):
    grid = suppress_grid(counts, k)
    lines = [(row, grid.row_totals[i]) for i, row in enumerate(grid.cells)]
    lines += [
        ([row[j] for row in grid.cells], grid.column_totals[j]) for j in range(len(counts[0]))
    ]
    lines += [(grid.row_totals, grid.total), (grid.column_totals, grid.total)]
    for parts, total in lines:
        hidden = [cell for cell in parts if cell.suppressed]
        if total.suppressed:
            continue
        assert len(hidden) != 1, "one hidden part = total minus the visible parts"
        if not hidden:
            assert total.value == sum(c.value for c in parts)
    figures = [*(c for row in grid.cells for c in row), *grid.row_totals, *grid.column_totals]
    for cell in [*figures, grid.total]:
        assert cell.suppressed or cell.value == 0 or cell.value >= k
    for i, row in enumerate(counts):
        for j, value in enumerate(row):
            assert grid.cells[i][j].suppressed or grid.cells[i][j].value == value


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 15), min_size=1, max_size=12), st.integers(5, 8))
def test_series_never_leaves_one_hidden_week_beside_a_shown_total(counts, k):
    parts, total = suppress_series(counts, k)
    hidden = sum(cell.suppressed for cell in parts)
    assert total.suppressed or hidden != 1
    assert all(c.suppressed or c.value == 0 or c.value >= k for c in [*parts, total])
