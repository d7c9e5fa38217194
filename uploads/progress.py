"""`progress` events as bytes arrive: at most 10 per second per session, the last state always delivered.

Bytes of one session arrive in whichever server process received the PATCH, so that
process publishes (through the channel layer, which reaches every process). Each
request for an event marks the session dirty; one event per session goes out per
interval, built from the database when it is sent, so the last state is always
the one delivered. Finishing (`completed`, `failed`, `cancelled`) is published by the
services themselves, at once.
"""

import asyncio
import logging
import math

from channels.db import database_sync_to_async

from uploads import services

logger = logging.getLogger(__name__)

INTERVAL = 0.1  # seconds: at most 10 progress events per second per session


class ProgressThrottle:
    """Per server process: session id -> a pending, rate-bounded publish.

    Consecutive events of a session are at least `interval` apart, measured from the end
    of one publish to the start of the next; a request while one is being published
    schedules one more after it, so the last change is never left unsent.
    """

    def __init__(self, interval: float = INTERVAL) -> None:
        self.interval = interval
        self._last: dict[int, float] = {}
        self._scheduled: dict[int, asyncio.AbstractEventLoop] = {}
        self._running: dict[int, asyncio.AbstractEventLoop] = {}
        self._again: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def request(self, session_id: int) -> None:
        """Asks for a `progress` event of the session (on the event loop, after the change is committed)."""
        loop = asyncio.get_running_loop()
        if self._scheduled.get(session_id) is loop:
            return
        if self._running.get(session_id) is loop:
            self._again.add(session_id)
            return
        self._schedule(loop, session_id, self._last.get(session_id, -math.inf) + self.interval - loop.time())

    def _schedule(self, loop: asyncio.AbstractEventLoop, session_id: int, delay: float) -> None:
        self._scheduled[session_id] = loop
        loop.call_later(max(0.0, delay), self._start, loop, session_id)

    def _start(self, loop: asyncio.AbstractEventLoop, session_id: int) -> None:
        task = loop.create_task(self._publish(loop, session_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _publish(self, loop: asyncio.AbstractEventLoop, session_id: int) -> None:
        self._scheduled.pop(session_id, None)
        self._running[session_id] = loop
        try:
            await database_sync_to_async(services.session_progress_publish)(session_id=session_id)
        except Exception:
            logger.exception("Publishing progress of upload session %s failed", session_id)
        finally:
            self._running.pop(session_id, None)
            self._last[session_id] = loop.time()
            if len(self._last) > 1000:
                cutoff = loop.time() - self.interval
                self._last = {key: at for key, at in self._last.items() if at > cutoff}
            if session_id in self._again:
                self._again.discard(session_id)
                self._schedule(loop, session_id, self.interval)


throttle = ProgressThrottle()
