"""Prometheus metrics (prometheus-client), opt-in: served at `/metrics` on the Slack and Teams web
ports only when CANISHARE_METRICS_TOKEN is set, and only to a request bearing that token.

Two kinds. Requests and their latency are counted in the process that served them (under gunicorn
with several workers, set PROMETHEUS_MULTIPROC_DIR to an empty folder and each worker's counts
are summed). Everything else is read from the database when scraped, so every process reports
the same truth whichever one answers: the outbox (depth, oldest undelivered, deliveries by
result), escalations still open (by urgency and status, and the oldest unclaimed), reminders
sent, and the age of the clock's heartbeat.
"""

from __future__ import annotations

import hmac
import math
import os
from collections.abc import Iterator
from datetime import datetime

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from bot.core.clock import Clock
from bot.storage import Storage
from bot.storage.schema import delivery_attempts, escalations, outbox

PROCESS = CollectorRegistry(auto_describe=True)
REQUESTS = Counter("canishare_requests", "Requests served, by channel and HTTP status class",
                   ["channel", "status"], registry=PROCESS)
LATENCY = Histogram("canishare_request_seconds", "Time to answer a request, by channel", ["channel"],
                    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10), registry=PROCESS)


def observe(channel: str, status: int, seconds: float) -> None:
    """One request served: counted, and its latency recorded."""
    REQUESTS.labels(channel, f"{status // 100}xx").inc()
    LATENCY.labels(channel).observe(seconds)


class StateCollector(Collector):
    """What the database says at scrape time (one short read transaction)."""

    def __init__(self, storage: Storage, clock: Clock):
        self.storage, self.clock = storage, clock

    def collect(self) -> Iterator[Metric]:
        from bot.dsl.health import clock_heartbeat_at

        now = self.clock.now()
        with self.storage.read() as tx:
            conn = tx.conn
            pending = conn.execute(select(func.count(), func.min(outbox.c.created_at))
                                   .where(outbox.c.status == "pending")).one()
            by_status = dict(conn.execute(select(outbox.c.status, func.count())
                                          .group_by(outbox.c.status)).all())
            failed_tries = conn.execute(select(func.count()).select_from(delivery_attempts)
                                        .where(delivery_attempts.c.ok == 0)).scalar() or 0
            e = escalations.c
            still_open = conn.execute(
                select(e.urgency, e.status, func.count(), func.min(e.created_at))
                .where(escalations.c.status != "resolved")
                .group_by(escalations.c.urgency, escalations.c.status)).all()
            reminders = conn.execute(select(func.coalesce(func.sum(e.reminders_sent), 0))).scalar()
        heartbeat = clock_heartbeat_at(self.storage)

        yield GaugeMetricFamily("canishare_outbox_pending", "Deliveries not yet made (outbox depth)",
                                value=pending[0])
        yield GaugeMetricFamily("canishare_outbox_oldest_pending_seconds",
                                "Age of the oldest undelivered delivery (0 when none)",
                                value=_age(now, pending[1]))
        results = CounterMetricFamily("canishare_deliveries", "Deliveries by result: delivered, "
                                      "abandoned (after the fallback), failed_attempt (each try that failed)",
                                      labels=["result"])
        results.add_metric(["delivered"], by_status.get("delivered", 0))
        results.add_metric(["abandoned"], by_status.get("abandoned", 0))
        results.add_metric(["failed_attempt"], failed_tries)
        yield results
        count = GaugeMetricFamily("canishare_escalations_open", "Escalations not yet resolved, by urgency "
                                  "and status (open = unclaimed)", labels=["urgency", "status"])
        oldest = GaugeMetricFamily("canishare_escalations_oldest_seconds", "Age of the oldest unresolved "
                                   "escalation, by urgency and status", labels=["urgency", "status"])
        for urgency in ("urgent", "routine"):
            for status in ("open", "claimed"):
                row = next((r for r in still_open if r[0] == urgency and r[1] == status), None)
                count.add_metric([urgency, status], row[2] if row else 0)
                oldest.add_metric([urgency, status], _age(now, row[3]) if row else 0)
        yield count
        yield oldest
        yield CounterMetricFamily("canishare_reminders_sent", "Reminders sent about escalations",
                                  value=reminders)
        yield GaugeMetricFamily("canishare_clock_heartbeat_age_seconds", "Seconds since `canishare clock` "
                                "last ticked (+Inf if it never has)",
                                value=(now - heartbeat).total_seconds() if heartbeat else math.inf)


def _age(now: datetime, since: str | None) -> float:
    return max(0.0, (now - datetime.fromisoformat(since)).total_seconds()) if since else 0.0


class MetricsEndpoint:
    """`/metrics` for a web server: (status, content type, body) for a request's Authorization."""

    def __init__(self, storage: Storage, clock: Clock, token: str):
        self.token = token
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(StateCollector(storage, clock))
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            multiprocess.MultiProcessCollector(self.registry)
        else:
            for collector in (REQUESTS, LATENCY):
                self.registry.register(collector)

    def __call__(self, authorization: str) -> tuple[int, str, bytes]:
        given = authorization.removeprefix("Bearer ").strip().encode()
        if not authorization.startswith("Bearer ") or not hmac.compare_digest(given, self.token.encode()):
            return 401, "text/plain; charset=utf-8", b"a bearer token is needed (CANISHARE_METRICS_TOKEN)\n"
        return 200, CONTENT_TYPE_LATEST, generate_latest(self.registry)
