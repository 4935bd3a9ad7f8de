"""Keeps the lifespan's long-running tasks (consumers, the outbox relay) running, and says so.

A task started in the lifespan that crashes does not stop the server: left alone, it would
simply be gone, and the service would stop consuming while looking healthy. The supervisor logs
each crash, starts the task again after a pause that grows with each crash in a row, and fails
the readiness check while a task is down.
"""

import asyncio
import logging
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self

logger = logging.getLogger(__name__)

FIRST_PAUSE = 0.1
"""Seconds before the first restart; each crash in a row doubles it."""
LONGEST_PAUSE = 30.0
"""The pause stops growing here. A task that ran this long before it crashed starts over."""


class Worker(Protocol):
    async def run(self) -> None:
        """Work until `stop()` is called, then return; raise if the work breaks."""

    def stop(self) -> None:
        """Ask `run()` to finish what it holds and return."""


class WorkerDown(Exception):
    """A supervised task crashed and waits to be started again."""


@dataclass
class _Supervised:
    worker: Worker
    task: asyncio.Task[None] | None = None
    crashes: int = 0
    """Crashes in a row, counted until a run lasts `LONGEST_PAUSE`."""
    down: bool = False


class Supervisor:
    """Runs workers until the lifespan ends; closing it stops them, then waits for them.

    `stop_timeout` bounds that wait; a worker still running after it is cancelled.
    """

    def __init__(self, stop_timeout: float) -> None:
        self.stop_timeout = stop_timeout
        self._workers: dict[str, _Supervised] = {}
        self._stopping = False

    def start(self, name: str, worker: Worker) -> None:
        if name in self._workers:
            raise ValueError(f"a worker named {name!r} is already running")
        supervised = self._workers[name] = _Supervised(worker)
        supervised.task = asyncio.create_task(self._keep_running(name, supervised), name=name)

    async def check(self) -> None:
        """The readiness check: raises `WorkerDown` while any worker is down."""
        down = [name for name, supervised in self._workers.items() if supervised.down]
        if down:
            raise WorkerDown(f"down, waiting to restart: {', '.join(down)}")

    async def _keep_running(self, name: str, supervised: _Supervised) -> None:
        while not self._stopping:
            started = time.monotonic()
            try:
                await supervised.worker.run()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("%s crashed", name)
            else:
                if self._stopping:
                    return
                logger.error("%s returned without being stopped", name)
            if time.monotonic() - started >= LONGEST_PAUSE:
                supervised.crashes = 0
            supervised.crashes += 1
            supervised.down = True
            pause = min(LONGEST_PAUSE, FIRST_PAUSE * 2 ** (supervised.crashes - 1))
            logger.warning(
                "restarting %s in %.1f s (crash %d in a row)", name, pause, supervised.crashes
            )
            await asyncio.sleep(pause)
            supervised.down = False

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        _type: type[BaseException] | None,
        _error: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self._stopping = True
        tasks = [supervised.task for supervised in self._workers.values() if supervised.task]
        for supervised in self._workers.values():
            supervised.worker.stop()
            if supervised.down and supervised.task:
                supervised.task.cancel()  # asleep before a restart: nothing to drain
        if not tasks:
            return
        _, still_running = await asyncio.wait(tasks, timeout=self.stop_timeout)
        for task in still_running:
            logger.warning(
                "%s did not stop within %.1f s; cancelling it", task.get_name(), self.stop_timeout
            )
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
