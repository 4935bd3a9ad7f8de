"""The upstream HTTP API, called within its limits. Importing it does not import FastAPI; only
`dependencies.py` and `errors.py` do."""

from .breaker import CircuitBreaker
from .client import (
    Upstream,
    UpstreamBusy,
    UpstreamError,
    UpstreamFailed,
    UpstreamTimeout,
    UpstreamUnavailable,
)

__all__ = [
    "CircuitBreaker",
    "Upstream",
    "UpstreamBusy",
    "UpstreamError",
    "UpstreamFailed",
    "UpstreamTimeout",
    "UpstreamUnavailable",
]
