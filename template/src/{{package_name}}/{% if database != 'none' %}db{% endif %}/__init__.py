"""Database access: the handle, units of work, retries and the table models.

Routes, scripts and background tasks use the same code through `Database`. Only the app's
wiring, `dependencies.py` and `errors.py`, imports FastAPI; importing `db` does not.
"""

from .database import (
    Database,
    DatabaseUnavailable,
    Isolation,
    LockNotAcquired,
    NamedLock,
    RetriesExhausted,
    RetryPolicy,
)

__all__ = [
    "Database",
    "DatabaseUnavailable",
    "Isolation",
    "LockNotAcquired",
    "NamedLock",
    "RetriesExhausted",
    "RetryPolicy",
]
