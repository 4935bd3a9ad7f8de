"""Database access without FastAPI: the handle, units of work, retries and the table models.

Routes, scripts and background tasks use the same code through `Database`.
"""

from .database import (
    Database,
    Isolation,
    LockNotAcquired,
    NamedLock,
    RetriesExhausted,
    RetryPolicy,
)

__all__ = [
    "Database",
    "Isolation",
    "LockNotAcquired",
    "NamedLock",
    "RetriesExhausted",
    "RetryPolicy",
]
