"""Prometheus metrics (docs/product.md §2, Operations). Counters live here so every layer
shares them.

Under gunicorn with several workers set ``PROMETHEUS_MULTIPROC_DIR``; ``/metrics`` then
aggregates every process.
"""

from __future__ import annotations

import os

# The multiprocess directory must exist before the first metric is created.
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    generate_latest,
    multiprocess,
)

REDIRECTS = Counter("afftrack_redirects_total", "Redirects served", ["outcome"])
CLICKS_QUEUED = Counter("afftrack_clicks_queued_total", "Clicks appended to the Redis stream")
CLICKS_WRITTEN = Counter("afftrack_clicks_written_total", "Clicks written to the database")
CLICKS_LOST = Counter(
    "afftrack_clicks_lost_total", "Clicks that could not be recorded (Redis and database down)"
)
REDIS_FALLBACKS = Counter(
    "afftrack_redirect_redis_fallbacks_total", "Redirects served without Redis"
)
WEBHOOKS = Counter("afftrack_webhooks_total", "Webhooks received", ["source", "outcome"])
COMMISSION_LINES = Counter("afftrack_commission_lines_total", "Commission lines appended", ["kind"])
STREAM_LAG = Gauge(
    "afftrack_click_stream_lag",
    "Clicks waiting in the stream (not yet written)",
    multiprocess_mode="max",
)

STREAM_PENDING = Gauge(
    "afftrack_click_stream_pending",
    "Clicks read by a worker but not yet acknowledged",
    multiprocess_mode="max",
)
STREAM_OLDEST_AGE = Gauge(
    "afftrack_click_stream_oldest_age_seconds",
    "Age of the oldest click still in the stream",
    multiprocess_mode="max",
)


def render() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
