"""Console pages: k-anonymous reports as server-drawn SVG charts, tables and CSV files."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, g, render_template, request

from core.console.session import ctx, error_page, page, section
from core.errors import NotFound, ValidationFailed
from core.models import Program
from core.services import report_tables, reports
from core.services.report_tables import Period, Report

STAFF = ("admin", "coordinator")
LABEL_WIDTH, BAR_WIDTH, ROW_HEIGHT = 170, 380, 26


@dataclass(frozen=True)
class Bar:
    """One shown segment of a row's bar, placed in SVG user units."""

    x: float
    width: float
    series: int
    text: str


@dataclass(frozen=True)
class ChartRow:
    label: str
    y: int
    bars: list[Bar]
    hidden: bool
    end: float


@dataclass(frozen=True)
class Chart:
    height: int
    rows: list[ChartRow]
    legend: list[str]


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/p/<slug>/reports", "reports", reports_page)
    bp.add_url_rule("/p/<slug>/reports/<name>.csv", "report_csv", report_csv)
    section("console.reports", "Reports", *STAFF)


def _period(program: Program) -> Period:
    return report_tables.period(
        program, ctx().now, request.args.get("from"), request.args.get("to")
    )


@page(*STAFF)
def reports_page(slug: str) -> Any:
    program: Program = g.program
    try:
        span = _period(program)
    except ValidationFailed as error:
        form = {"from": request.args.get("from", ""), "to": request.args.get("to", "")}
        html = render_template(
            "console/reports.html", error=error, form=form, shown=[], k=program.min_report_group
        )
        return html, 422
    shown = [(report, chart(report)) for report in reports.build(ctx(), program, span)]
    form = {"from": span.first.isoformat(), "to": span.last.isoformat()}
    return render_template(
        "console/reports.html",
        error=None,
        form=form,
        shown=shown,
        k=program.min_report_group,
        query=form,
    )


@page(*STAFF)
def report_csv(slug: str, name: str) -> Any:
    program: Program = g.program
    if name not in reports.REPORTS:
        raise NotFound("no such report", field="name")
    try:
        span = _period(program)
    except ValidationFailed as error:
        return error_page(422, str(error))
    [report] = reports.build(ctx(), program, span, only=name)
    filename = f"{program.slug}-{name}-{span.first}-{span.last}.csv"
    return Response(
        as_csv(report),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def as_csv(report: Report) -> str:
    """The report's table; a suppressed figure is written as the word 'suppressed'."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([report.row_header, *report.columns])
    rows = [*report.rows, *([report.total] if report.total else [])]
    for row in rows:
        writer.writerow(
            [row.label, *(f.text if not f.suppressed else "suppressed" for f in row.figures)]
        )
    return out.getvalue()


def chart(report: Report) -> Chart:
    """Horizontal bars, one per row, stacking the report's chart columns."""
    sums = [sum(row.figures[c].amount or 0 for c in report.chart_columns) for row in report.rows]
    top = max([*sums, 100.0 if report.unit == "%" else 1.0])
    rows = []
    for n, row in enumerate(report.rows):
        bars, x = [], float(LABEL_WIDTH)
        for series, column in enumerate(report.chart_columns):
            figure = row.figures[column]
            if figure.amount:
                width = BAR_WIDTH * figure.amount / top
                bars.append(Bar(x, width, series, f"{report.columns[column]}: {figure.text}"))
                x += width
        hidden = any(row.figures[c].suppressed for c in report.chart_columns)
        rows.append(ChartRow(row.label, 8 + n * ROW_HEIGHT, bars, hidden, x + 6))
    legend = [report.columns[c] for c in report.chart_columns]
    return Chart(16 + len(rows) * ROW_HEIGHT, rows, legend)
