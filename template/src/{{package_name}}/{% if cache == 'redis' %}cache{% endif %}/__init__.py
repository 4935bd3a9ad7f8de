"""Redis for the service: cache-aside with stampede protection, locks across processes, and rate
limits shared by every process and replica.

Importing it does not import FastAPI; only `dependencies.py` and `errors.py` do.
"""

from .aside import Cache
from .locks import LockNotAcquired, distributed_lock
from .rate_limits import RateLimited, RateLimiter

__all__ = ["Cache", "LockNotAcquired", "RateLimited", "RateLimiter", "distributed_lock"]
