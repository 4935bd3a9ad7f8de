"""A circuit breaker: fail at once while the upstream is down, instead of making every request
wait out its timeout and piling them up.

After `threshold` failures in a row the circuit opens, and calls fail at once for
`reset_timeout` seconds. Then one call goes through as a trial: its success closes the circuit,
its failure opens it again. The state belongs to one process; each worker learns on its own.
"""

import time
from collections.abc import Callable


class CircuitBreaker:
    def __init__(
        self,
        threshold: int,
        reset_timeout: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = threshold
        self.reset_timeout = reset_timeout
        self.clock = clock
        self.failures = 0
        self.opened_at: float | None = None
        self.trial_in_flight = False

    def refusal(self) -> float | None:
        """Seconds until a call may go while the circuit is open, or None when it may go now."""
        if self.opened_at is None:
            return None
        remaining = self.opened_at + self.reset_timeout - self.clock()
        if remaining > 0:
            return remaining
        return self.reset_timeout if self.trial_in_flight else None

    def enter(self) -> bool:
        """Called as a request is sent; True for the trial, the first one after the pause.

        Only the trial's own verdict may end it: a request that merely waited beside it must
        not clear it, or the next request becomes a second trial.
        """
        if self.opened_at is None:
            return False
        self.trial_in_flight = True
        return True

    def succeeded(self) -> None:
        self.failures = 0
        self.opened_at = None
        self.trial_in_flight = False

    def abandoned(self, trial: bool) -> None:
        """A call ended without a verdict on the upstream (it was cancelled, say)."""
        if trial:
            self.trial_in_flight = False

    def failed(self, trial: bool) -> None:
        self.failures += 1
        if trial or self.failures >= self.threshold:
            self.opened_at = self.clock()
        if trial:
            self.trial_in_flight = False
