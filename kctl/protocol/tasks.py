"""Background tasks that say when they fail: the broker's and the consumer's.

Read by the layers that run tasks (the broker, the client), as `clock` is: a task that dies
silently would leave a broker that no longer expires sessions, or a consumer that no longer
fetches, while everything else looks alive.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


def supervised(name: str, body: Callable[[], Awaitable[None]],
               on_failure: Callable[[BaseException], None]) -> asyncio.Task[None]:
    """A task running `body` that calls `on_failure` with what ended it (not a cancellation),
    then ends with it. Its exception counts as retrieved: `on_failure` is where it is handled."""

    async def guarded() -> None:
        try:
            await body()
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            on_failure(exc)
            raise

    task = asyncio.create_task(guarded(), name=name)
    task.add_done_callback(lambda t: None if t.cancelled() else t.exception())
    return task
