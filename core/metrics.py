"""Prometheus metrics, read from the database at scrape time so every process reports the same."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Float, case, cast, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from core.models import Delivery, Offer

if TYPE_CHECKING:
    from core.runtime import Runtime

ACCEPT_BUCKETS = (30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
FINISHED = ("sent", "dead", "skipped")


class PeerLineCollector(Collector):
    """Queue depth, deliveries by channel and outcome, dead letters, offer time-to-accept."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily | HistogramMetricFamily]:
        jobs = self.runtime.jobs
        depth = GaugeMetricFamily(
            "peerline_job_queue_depth", "Jobs waiting in the queue (-1: queue unreachable)"
        )
        depth.add_metric([], jobs.queue_depth() if jobs is not None else 0)
        yield depth
        with self.runtime.session_factory() as session:
            yield from _deliveries(session)
            yield _time_to_accept(session)


def _deliveries(session: Session) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
    rows = session.execute(
        select(
            Delivery.channel, Delivery.status, func.count(), func.sum(Delivery.attempts)
        ).group_by(Delivery.channel, Delivery.status)
    ).all()
    finished = CounterMetricFamily(
        "peerline_deliveries",
        "Messages finished, by channel and outcome",
        labels=["channel", "outcome"],
    )
    attempts = CounterMetricFamily(
        "peerline_delivery_attempts", "Send attempts, by channel", labels=["channel"]
    )
    pending = GaugeMetricFamily("peerline_deliveries_pending", "Messages waiting to be sent")
    dead = GaugeMetricFamily("peerline_dead_letters", "Messages that failed for good")
    per_channel: dict[str, float] = {}
    waiting = dead_count = 0
    for channel, status, count, tries in rows:
        name = channel or "none"
        per_channel[name] = per_channel.get(name, 0) + float(tries or 0)
        if status in FINISHED:
            finished.add_metric([name, status], count)
        waiting += count if status == "pending" else 0
        dead_count += count if status == "dead" else 0
    for name, total in sorted(per_channel.items()):
        attempts.add_metric([name], total)
    pending.add_metric([], waiting)
    dead.add_metric([], dead_count)
    yield from (finished, attempts, pending, dead)


def _seconds_to_accept(session: Session) -> ColumnElement[float]:
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.extract("epoch", Offer.responded_at - Offer.created_at), Float)
    return cast(
        (func.julianday(Offer.responded_at) - func.julianday(Offer.created_at)) * 86400, Float
    )


def _time_to_accept(session: Session) -> HistogramMetricFamily:
    seconds = _seconds_to_accept(session)
    columns = [func.sum(case((seconds <= bound, 1), else_=0)) for bound in ACCEPT_BUCKETS]
    row = session.execute(
        select(func.count(), func.coalesce(func.sum(seconds), 0), *columns).where(
            Offer.status == "accepted", Offer.responded_at.is_not(None)
        )
    ).one()
    total, seconds_sum, *cumulative = row
    buckets = [(str(b), int(c or 0)) for b, c in zip(ACCEPT_BUCKETS, cumulative, strict=True)]
    histogram = HistogramMetricFamily(
        "peerline_offer_time_to_accept_seconds", "From an offer to its acceptance"
    )
    histogram.add_metric([], [*buckets, ("+Inf", int(total))], float(seconds_sum))
    return histogram


def exposition(runtime: Runtime) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PeerLineCollector(runtime))
    return generate_latest(registry)
