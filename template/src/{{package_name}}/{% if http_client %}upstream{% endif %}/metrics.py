"""The upstream's metrics: how long calls wait for their turn under the limits, how many get
none, and how many are tries again."""

from prometheus_client import Counter, Histogram

QUEUE_WAIT = Histogram(
    "upstream_queue_wait_seconds",
    "Time a call that got its turn waited for it under the concurrency and rate limits.",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
REFUSED = Counter(
    "upstream_refused_total",
    "Calls that got no turn within queue_timeout (answered 503).",
)
RETRIES = Counter(
    "upstream_retries_total",
    "Tries of an idempotent call after a transient failure.",
)
