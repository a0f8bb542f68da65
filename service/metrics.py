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
    "afftrack_clicks_lost_total",
    "Clicks that could not be recorded (Redis, the database and the spool all failed)",
)
CLICKS_REFUSED = Counter(
    "afftrack_clicks_refused_total",
    "Spooled clicks dropped because they can never be stored (unreadable, or their link "
    "deleted during the outage), by reason",
    ["reason"],
)
CLICKS_SPOOLED = Counter(
    "afftrack_clicks_spooled_total",
    "Clicks kept in the local spool (Redis and the database both unavailable)",
)
CLICKS_UNSPOOLED = Counter(
    "afftrack_clicks_unspooled_total",
    "Spooled clicks moved on, by where they went (redis or database)",
    ["target"],
)
SPOOL_RECORDS = Gauge(
    "afftrack_spool_records",
    "Records waiting in the local spool, by kind (clicks, seen, webhooks)",
    ["kind"],
    multiprocess_mode="max",
)
SPOOL_OLDEST_AGE = Gauge(
    "afftrack_spool_oldest_age_seconds",
    "Age of the oldest record waiting in the local spool, by kind",
    ["kind"],
    multiprocess_mode="max",
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


# Webhook deliveries kept in the local spool while the database was down
# (service/conversions/spooled.py); each is also counted in WEBHOOKS as "queued".
WEBHOOKS_SPOOLED = Counter(
    "afftrack_webhooks_spooled_total", "Webhook deliveries kept in the local spool", ["source"]
)
WEBHOOKS_UNSPOOLED = Counter(
    "afftrack_webhooks_unspooled_total",
    "Spooled webhook deliveries applied, by the outcome of each event (or why skipped)",
    ["source", "outcome"],
)
