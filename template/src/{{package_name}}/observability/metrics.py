"""The HTTP metrics, and the exposition of every metric in Prometheus' text format.

Metrics live in prometheus-client's default registry, defined once per process at import: each
resource defines its own next to the code it measures (`db/metrics.py`, `upstream/metrics.py`,
`messaging/metrics.py`), and only the resources the service has define any.

With several worker processes, each keeps its own numbers, and a scrape reaches one worker.
With `PROMETHEUS_MULTIPROC_DIR` naming an empty directory before the workers start, every worker
writes its numbers there, and `/metrics` in any worker then adds up all of them; the production
server sees to that (`worker_metrics_shared`).
"""

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"

REQUEST_DURATION = Histogram(
    "http_request_duration_seconds",
    "Time from a request's arrival to the end of its response; _count counts requests.",
    ["method", "route", "status"],
)
REQUESTS_IN_PROGRESS = Gauge(
    "http_requests_in_progress",
    "Requests being handled.",
    multiprocess_mode="livesum",
)


def multiprocess() -> bool:
    return MULTIPROCESS_DIR in os.environ


def exposition() -> bytes:
    """Every metric as Prometheus reads it: this process's, or every worker's in multiprocess
    mode."""
    if not multiprocess():
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


@contextmanager
def worker_metrics_shared(workers: int) -> Iterator[None]:
    """Before the server starts `workers` processes: let them add up their metrics.

    A directory named by `PROMETHEUS_MULTIPROC_DIR` is emptied of an earlier run's numbers,
    which would otherwise be added in; with several workers and none named, a temporary one is
    made for this run and removed after it.
    """
    if multiprocess():
        directory = Path(os.environ[MULTIPROCESS_DIR])
        directory.mkdir(parents=True, exist_ok=True)
        for numbers in directory.glob("*.db"):
            numbers.unlink()
        yield
    elif workers > 1:
        directory = Path(tempfile.mkdtemp(prefix="metrics-"))
        os.environ[MULTIPROCESS_DIR] = str(directory)
        try:
            yield
        finally:
            del os.environ[MULTIPROCESS_DIR]
            shutil.rmtree(directory, ignore_errors=True)
    else:
        yield
