"""Follow-up tasks of the central system and of the charge point simulator.

A message handler often starts a follow-up (a profile after a StartTransaction, a status after a
profile) that must not block the reply; ``settle()`` waits until every follow-up started so far,
and those they start, are done (the headless day reads meters only then).
"""

from __future__ import annotations

import asyncio
from typing import Any, Coroutine

__all__ = ["FollowUps"]


class FollowUps:
    """Mixin: ``spawn`` follow-up coroutines, ``settle`` them, ``cancel_follow_ups`` on stop."""

    _tasks: set[asyncio.Task]

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task:
        t = asyncio.ensure_future(coro)
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)
        return t

    async def settle(self) -> None:
        """Wait for the follow-ups started so far (and those they start)."""
        while True:
            pending = [t for t in self._tasks if not t.done()]
            if not pending:
                return
            await asyncio.gather(*pending, return_exceptions=True)

    def cancel_follow_ups(self) -> None:
        for t in list(self._tasks):
            t.cancel()
