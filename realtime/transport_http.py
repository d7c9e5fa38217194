"""Protocol v1 over HTTP, for clients whose WebSocket never opens (docs/protocol.md 1.1).

`POST /rt/session` creates a transport session: an `HttpSession`, the same `Connection`
as a WebSocket's (every frame rule lives there), whose frames go to an outbound log
instead of a socket. `GET /rt/events` streams that log as Server-Sent Events (`id:` is
the frame's number), `GET /rt/poll` returns it in long-poll batches with the same
numbers, and `POST /rt/send` queues client frames for the session, handled in order.

Where things live:

- The `HttpSession` object (topics, presence, rate limit) lives in the process that
  created it, its *home*, and is fanned out to by that process's hub like a socket.
- Without `REDIS_URL` (one process) the logs are in memory (`LocalSessions`).
- With `REDIS_URL` (`RedisSessions`) any process may serve any request of a session: the
  session's record (`<prefix>:rts:<id>`, the bound user and the home process; its expiry
  is the session's idle timeout), its inbound frames (a Redis stream `...:in`, so frames
  sent through different processes keep their order) and its outbound log (a Redis
  stream `...:out` with ids `0-<n>`) are in Redis. One task per process waits on every
  stream it cares about with a single blocking XREAD.

The session id is a capability: it is never logged (the access-log redaction covers
`session=`), and a request that carries another identity's credentials gets 404.
"""

import asyncio
import contextlib
import io
import itertools
import logging
import secrets
import time
from collections import deque
from typing import Any
from urllib.parse import parse_qs

import orjson
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.middleware.csrf import CsrfViewMiddleware

from config.errors import Unauthorized
from realtime.auth import Identity, identity_from_session, identity_from_token, session_key_from_headers
from realtime.consumer import CLOSE_SERVER_ERROR, Connection
from realtime.db import db_call
from realtime.logging import redact_access_logs
from realtime.middleware import origin_allowed

logger = logging.getLogger(__name__)

PREFIX = "/rt/"
SESSION_PATH = "/rt/session"
EVENTS_PATH = "/rt/events"
SEND_PATH = "/rt/send"
POLL_PATH = "/rt/poll"
MAX_FRAMES_PER_POST = 100
POLL_WAIT = 25.0  # seconds a poll waits for its first frame
# Frames already written to a stream kept for a reconnect's Last-Event-ID; a session whose
# reader falls further behind than OUT_LIMIT frames is closed with 1011 when it resumes.
RESEND_WINDOW = 256
OUT_LIMIT = 4096
ENDED_GRACE = 10.0  # seconds an ended session's close stays readable
XREAD_BLOCK_MS = 500
CLOSE_GOING_AWAY = 1001


def _idle_timeout() -> float:
    return 3.0 * settings.REALTIME_HEARTBEAT


def _new_session_id() -> str:
    return secrets.token_urlsafe(32)


class HttpSession(Connection):
    """A protocol connection whose frames are numbered and logged for streams and polls."""

    __slots__ = ("_inbox", "_next", "_processing", "_sessions", "ended", "session_id")

    def __init__(self, scope: dict[str, Any], sessions: "Sessions", session_id: str) -> None:
        super().__init__(scope)
        self.session_id = session_id
        self._sessions = sessions
        self._next = 0
        self._inbox: deque[str | None] = deque()
        self._processing = False
        self.ended = False

    # -- transport ---------------------------------------------------------------

    def write(self, frame: str, wire: bytes | None = None) -> None:
        if self.closed:
            return
        self._next += 1
        self._sessions.append_out(self, self._next, frame, None)

    def close(self, code: int) -> None:
        """Logs `event: close` after everything queued; the session then ends."""
        if self.closed:
            return
        self.closed = True
        self._next += 1
        self._sessions.append_out(self, self._next, None, code)
        self._sessions.end_soon(self)

    def housekeeping(self, now: float) -> None:
        super().housekeeping(now)
        self._sessions.housekeeping(self, now)

    async def _set_identity(self, identity: Identity) -> None:
        await super()._set_identity(identity)
        # Requests then have to carry this identity's credentials (or none).
        await self._sessions.rebind(self)

    # -- input -------------------------------------------------------------------

    def receive(self, frames: list[str | None]) -> None:
        """Queues frames (None: the session is to end) and handles them in order, one at a time."""
        self._inbox.extend(frames)
        if not self._processing:
            self._processing = True
            asyncio.get_running_loop().create_task(self._process())

    async def _process(self) -> None:
        try:
            while self._inbox:
                text = self._inbox.popleft()
                if text is None:
                    self._inbox.clear()
                    await self._sessions.end(self)
                    return
                if not self.closed:
                    await self.on_frame(text, None)
        finally:
            self._processing = False


class Record:
    """What every process knows about a session: who it is bound to."""

    __slots__ = ("home", "user_id")

    def __init__(self, user_id: int | None, home: str = "") -> None:
        self.user_id = user_id
        self.home = home


class Sessions:
    """The sessions of this process and the logs of every session (per backend)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.local: dict[str, HttpSession] = {}
        # session id -> asyncio.Event of readers waiting for its outbound log
        self.waiters: dict[str, set[asyncio.Event]] = {}

    async def start(self) -> None:
        pass

    async def create(self, scope: dict[str, Any], identity: Identity) -> HttpSession:
        session = HttpSession(scope, self, _new_session_id())
        self.local[session.session_id] = session
        await self.store_record(session)
        await session.start(identity)
        return session

    def _notify(self, session_id: str) -> None:
        for event in self.waiters.get(session_id, ()):
            event.set()

    async def wait(self, session_id: str, seconds: float) -> None:
        event = asyncio.Event()
        self.waiters.setdefault(session_id, set()).add(event)
        self._waiting(session_id, True)
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(seconds):  # no task per wait, unlike wait_for()
                    await event.wait()
        finally:
            events = self.waiters.get(session_id)
            if events is not None:
                events.discard(event)
                if not events:
                    del self.waiters[session_id]
                    self._waiting(session_id, False)

    def _waiting(self, session_id: str, waiting: bool) -> None:
        pass

    def end_soon(self, session: HttpSession) -> None:
        self.loop.create_task(self.end(session))

    async def end(self, session: HttpSession) -> None:
        """The session is over: it leaves its topics and its record is removed."""
        if session.ended:
            return
        session.ended = True
        if not session.closed:
            # Ended without a close code (DELETE, expiry, shutdown): an open stream still learns it.
            session.closed = True
            session._next += 1
            self.append_out(session, session._next, None, CLOSE_GOING_AWAY)
        try:
            await session.finish()
        finally:
            await self.drop_record(session)
            self.loop.call_later(ENDED_GRACE, self.local.pop, session.session_id, None)

    # -- backend -----------------------------------------------------------------

    async def store_record(self, session: HttpSession) -> None:
        raise NotImplementedError

    async def rebind(self, session: HttpSession) -> None:
        raise NotImplementedError

    async def drop_record(self, session: HttpSession) -> None:
        raise NotImplementedError

    async def record(self, session_id: str) -> Record | None:
        raise NotImplementedError

    async def touch(self, session_id: str) -> None:
        raise NotImplementedError

    async def push(self, session_id: str, record: Record, frames: list[str | None]) -> None:
        raise NotImplementedError

    def append_out(self, session: HttpSession, number: int, frame: str | None, code: int | None) -> None:
        raise NotImplementedError

    async def read(self, session_id: str, cursor: int, written: bool) -> tuple[list[tuple[int, str]], int | None]:
        """Frames numbered after `cursor`, and the close code if the log ends with one.

        A cursor older than what is kept means frames were lost: that reads as a 1011 close.
        `written`: the frames are going to an open stream (kept RESEND_WINDOW frames back).
        """
        raise NotImplementedError

    def housekeeping(self, session: HttpSession, now: float) -> None:
        pass

    async def stream_alive(self, session_id: str) -> bool:
        """Called by an open stream every heartbeat: keeps the session alive; False once it is gone."""
        raise NotImplementedError


class LocalSessions(Sessions):
    """One process: records and logs are the sessions' own memory."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop)
        self.out: dict[str, deque[tuple[int, str | None, int | None]]] = {}
        self.seen: dict[str, float] = {}
        self.users: dict[str, int | None] = {}
        # Per session: the highest frame number a reader took, and the bytes logged after it.
        self.read_upto: dict[str, int] = {}
        self.unread: dict[str, int] = {}

    async def store_record(self, session: HttpSession) -> None:
        self.out[session.session_id] = deque()
        self.seen[session.session_id] = time.monotonic()
        self.users[session.session_id] = session.user_id
        self.read_upto[session.session_id] = 0
        self.unread[session.session_id] = 0

    async def rebind(self, session: HttpSession) -> None:
        self.users[session.session_id] = session.user_id

    async def drop_record(self, session: HttpSession) -> None:
        self.users.pop(session.session_id, None)
        self.seen.pop(session.session_id, None)
        self.unread.pop(session.session_id, None)
        self.read_upto.pop(session.session_id, None)
        self.loop.call_later(ENDED_GRACE, self.out.pop, session.session_id, None)

    async def record(self, session_id: str) -> Record | None:
        if session_id not in self.users:
            return None
        return Record(self.users[session_id])

    async def touch(self, session_id: str) -> None:
        if session_id in self.seen:
            self.seen[session_id] = time.monotonic()

    async def push(self, session_id: str, record: Record, frames: list[str | None]) -> None:
        session = self.local.get(session_id)
        if session is not None and not session.ended:
            session.receive(frames)

    def append_out(self, session: HttpSession, number: int, frame: str | None, code: int | None) -> None:
        log = self.out.get(session.session_id)
        if log is None:
            return
        log.append((number, frame, code))
        if len(log) > OUT_LIMIT:
            log.popleft()
        if frame is not None and session.session_id in self.unread:
            self.unread[session.session_id] += len(frame)
            if self.unread[session.session_id] > settings.REALTIME_MAX_BUFFERED_BYTES:
                # As a WebSocket that stops reading: what is unsent is dropped, then 1011.
                logger.warning("Dropping HTTP session of connection %s: it is not reading its frames", session.conn_id)
                upto = self.read_upto.get(session.session_id, 0)
                while log and log[-1][0] > upto:
                    log.pop()
                self.unread[session.session_id] = 0
                session.close(CLOSE_SERVER_ERROR)
                return
        self._notify(session.session_id)

    async def read(self, session_id: str, cursor: int, written: bool) -> tuple[list[tuple[int, str]], int | None]:
        log = self.out.get(session_id)
        if log is None:
            return [], CLOSE_GOING_AWAY
        while log and log[0][0] <= cursor - (RESEND_WINDOW if written else 0):
            log.popleft()
        if log and log[0][0] > cursor + 1:
            return [], CLOSE_SERVER_ERROR
        frames: list[tuple[int, str]] = []
        closing: int | None = None
        # Numbers are consecutive: only the entries after the cursor are looked at (from the end).
        newer = log[-1][0] - cursor if log else 0
        for number, frame, code in reversed(list(itertools.islice(reversed(log), max(0, newer)))):
            if frame is None:
                closing = code
                break
            frames.append((number, frame))
        if frames and frames[-1][0] > self.read_upto.get(session_id, frames[-1][0]):
            upto = self.read_upto[session_id]
            self.unread[session_id] -= sum(len(frame) for number, frame in frames if number > upto)
            self.read_upto[session_id] = frames[-1][0]
        return frames, closing

    def housekeeping(self, session: HttpSession, now: float) -> None:
        seen = self.seen.get(session.session_id)
        if seen is not None and session.session_id not in self.waiters and now - seen > _idle_timeout():
            self.loop.create_task(self.end(session))

    async def stream_alive(self, session_id: str) -> bool:
        await self.touch(session_id)
        return session_id in self.users


class RedisSessions(Sessions):
    """Several processes: records and logs in Redis, readable and writable from any process."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop)
        from redis import asyncio as aioredis

        prefix = settings.REALTIME_REDIS_PREFIX
        url = str(settings.REDIS_URL)
        self.prefix = f"{prefix}:rts:"
        self.process = secrets.token_hex(8)
        self.process_key = f"{prefix}:rtp:{self.process}"
        # redis-py's stubs type every reply as a union; the replies are read as documented.
        # A blocking pool: a burst of requests waits for a connection instead of failing.
        pool = aioredis.BlockingConnectionPool.from_url(url, max_connections=64, timeout=30, socket_timeout=None)
        self.redis: Any = aioredis.Redis(connection_pool=pool)
        self.reader: Any = aioredis.Redis.from_url(url, socket_timeout=None)
        # Streams the XREAD loop watches: key -> the last id it has seen there.
        self.watched: dict[str, str] = {}
        self.in_seen: dict[str, str] = {}
        self._pending: list[tuple[HttpSession, int, str | None, int | None]] = []
        # Per home session: (number, bytes) of frames no reader has taken yet, and their sum
        # (readers on other processes report what they took in `...:ack`).
        self.unread: dict[str, deque[tuple[int, int]]] = {}
        self.unread_bytes: dict[str, int] = {}
        self._flushing = False
        # Batches of outbound frames are written one after the other (ids must grow).
        self._flush_lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []

    def _key(self, session_id: str) -> str:
        return self.prefix + session_id

    async def start(self) -> None:
        await self.redis.set(self.process_key, "1", ex=5)
        self._tasks = [
            self.loop.create_task(self._xread_loop(), name="realtime-http-xread"),
            self.loop.create_task(self._upkeep_loop(), name="realtime-http-upkeep"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await task
        with contextlib.suppress(Exception):
            await self.redis.delete(self.process_key)
        await self.redis.aclose()
        await self.redis.connection_pool.disconnect()
        await self.reader.aclose()
        await self.reader.connection_pool.disconnect()

    async def store_record(self, session: HttpSession) -> None:
        key = self._key(session.session_id)
        record = orjson.dumps({"user": session.user_id, "home": self.process})
        await self.redis.set(key, record, ex=int(_idle_timeout()) + 1)
        self.in_seen[session.session_id] = "0-0"
        self.watched[key + ":in"] = "0-0"

    async def rebind(self, session: HttpSession) -> None:
        key = self._key(session.session_id)
        record = orjson.dumps({"user": session.user_id, "home": self.process})
        await self.redis.set(key, record, xx=True, keepttl=True)

    async def drop_record(self, session: HttpSession) -> None:
        key = self._key(session.session_id)
        self.unread.pop(session.session_id, None)
        self.unread_bytes.pop(session.session_id, None)
        self.watched.pop(key + ":in", None)
        self.in_seen.pop(session.session_id, None)
        # The outbound log stays a little, so a reader still gets the close.
        await self._flush()
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.delete(key, key + ":in", key + ":ack")
            pipe.expire(key + ":out", int(ENDED_GRACE))
            await pipe.execute()

    async def record(self, session_id: str) -> Record | None:
        raw = await self.redis.get(self._key(session_id))
        if raw is None:
            return None
        data = orjson.loads(raw)
        if data["home"] != self.process and not await self.redis.exists(
            f"{settings.REALTIME_REDIS_PREFIX}:rtp:{data['home']}"
        ):
            return None  # its home process died: the session died with it
        return Record(data["user"], data["home"])

    async def touch(self, session_id: str) -> None:
        await self.redis.expire(self._key(session_id), int(_idle_timeout()) + 1, xx=True)

    async def push(self, session_id: str, record: Record, frames: list[str | None]) -> None:
        key = self._key(session_id) + ":in"
        async with self.redis.pipeline(transaction=False) as pipe:
            for frame in frames:
                pipe.xadd(key, {"f": frame} if frame is not None else {"end": "1"})
            await pipe.execute()
        session = self.local.get(session_id)
        if session is not None:
            await self._take_inbound(session)

    async def _take_inbound(self, session: HttpSession) -> None:
        """Moves the session's inbound frames from Redis into its queue (home process only)."""
        key = self._key(session.session_id) + ":in"
        last = self.in_seen.get(session.session_id)
        if last is None:
            return
        entries = await self.redis.xrange(key, min=f"({last}", count=MAX_FRAMES_PER_POST * 2)
        if not entries:
            return
        if self.in_seen.get(session.session_id) != last:
            # Another call took some meanwhile: read again from where it stopped.
            await self._take_inbound(session)
            return
        self.in_seen[session.session_id] = entries[-1][0].decode()
        frames: list[str | None] = [fields[b"f"].decode() if b"f" in fields else None for _, fields in entries]
        session.receive(frames)
        await self.redis.xtrim(key, minid=entries[-1][0].decode())
        if len(entries) == MAX_FRAMES_PER_POST * 2:
            await self._take_inbound(session)

    def append_out(self, session: HttpSession, number: int, frame: str | None, code: int | None) -> None:
        session_id = session.session_id
        if frame is not None and not session.ended:
            self.unread.setdefault(session_id, deque()).append((number, len(frame)))
            self.unread_bytes[session_id] = self.unread_bytes.get(session_id, 0) + len(frame)
            if self.unread_bytes[session_id] > settings.REALTIME_MAX_BUFFERED_BYTES:
                self._drop_slow_reader(session, number)
                return
        self._pending.append((session, number, frame, code))
        if not self._flushing:
            self._flushing = True
            self.loop.create_task(self._flush_soon())

    def _drop_slow_reader(self, session: HttpSession, number: int) -> None:
        """As a WebSocket that stops reading: what no reader took is dropped, then 1011."""
        logger.warning("Dropping HTTP session of connection %s: it is not reading its frames", session.conn_id)
        untaken = [taken for taken, _ in self.unread.pop(session.session_id, ())]
        self.unread_bytes.pop(session.session_id, None)
        self._pending = [item for item in self._pending if item[0] is not session]
        flushed = [n for n in untaken if n != number]
        if flushed:
            key = self._key(session.session_id) + ":out"
            self.loop.create_task(self.redis.xdel(key, *(f"0-{n}" for n in flushed)))
        session.close(CLOSE_SERVER_ERROR)

    def _taken(self, session_id: str, upto: int) -> None:
        untaken = self.unread.get(session_id)
        while untaken and untaken[0][0] <= upto:
            self.unread_bytes[session_id] -= untaken.popleft()[1]

    async def _flush_soon(self) -> None:
        try:
            await self._flush()
        finally:
            self._flushing = False
        if self._pending:  # appended while the lock was held by another flush
            self._flushing = True
            self.loop.create_task(self._flush_soon())

    async def _flush(self) -> None:
        async with self._flush_lock:
            while self._pending:
                batch, self._pending = self._pending, []
                async with self.redis.pipeline(transaction=False) as pipe:
                    for session, number, frame, code in batch:
                        fields = {"f": frame} if frame is not None else {"c": str(code)}
                        pipe.xadd(
                            self._key(session.session_id) + ":out",
                            fields,
                            id=f"0-{number}",
                            maxlen=OUT_LIMIT,
                            approximate=True,
                        )
                    try:
                        await pipe.execute()
                    except Exception:
                        logger.exception("Writing %d frames of HTTP sessions to Redis failed", len(batch))
                for session_id in {session.session_id for session, _, _, _ in batch}:
                    self._notify(session_id)

    async def read(self, session_id: str, cursor: int, written: bool) -> tuple[list[tuple[int, str]], int | None]:
        key = self._key(session_id) + ":out"
        if written and cursor > RESEND_WINDOW:
            await self.redis.xtrim(key, minid=f"0-{cursor - RESEND_WINDOW}")
        elif not written and cursor > 0:
            await self.redis.xtrim(key, minid=f"0-{cursor + 1}")
        entries = await self.redis.xrange(key, min=f"0-{max(0, cursor - 0)}", count=1000)
        if not entries:
            return [], None
        first = int(entries[0][0].split(b"-")[1])
        if first > cursor + 1:
            return [], CLOSE_SERVER_ERROR
        frames: list[tuple[int, str]] = []
        for entry_id, fields in entries:
            number = int(entry_id.split(b"-")[1])
            if number <= cursor:
                continue
            if b"c" in fields:
                await self._report_taken(session_id, frames)
                return frames, int(fields[b"c"])
            frames.append((number, fields[b"f"].decode()))
        await self._report_taken(session_id, frames)
        return frames, None

    async def _report_taken(self, session_id: str, frames: list[tuple[int, str]]) -> None:
        if not frames:
            return
        if session_id in self.local:
            self._taken(session_id, frames[-1][0])
        else:
            await self.redis.set(self._key(session_id) + ":ack", frames[-1][0], ex=int(_idle_timeout()) + 1)

    def _waiting(self, session_id: str, waiting: bool) -> None:
        key = self._key(session_id) + ":out"
        if waiting:
            self.watched.setdefault(key, "0-0")
        else:
            self.watched.pop(key, None)

    async def _xread_loop(self) -> None:
        while True:
            watched = dict(self.watched)
            if not watched:
                await asyncio.sleep(XREAD_BLOCK_MS / 1000)
                continue
            try:
                answer = await self.reader.xread(watched, block=XREAD_BLOCK_MS, count=OUT_LIMIT)
            except Exception:
                logger.exception("Waiting on HTTP sessions' streams in Redis failed")
                await asyncio.sleep(1)
                continue
            for raw_key, entries in answer or ():
                key = raw_key.decode()
                if key in self.watched:
                    self.watched[key] = entries[-1][0].decode()
                session_id = key[len(self.prefix) :].rsplit(":", 1)[0]
                if key.endswith(":in"):
                    session = self.local.get(session_id)
                    if session is not None:
                        self.loop.create_task(self._take_inbound(session))
                else:
                    self._notify(session_id)

    async def _upkeep_loop(self) -> None:
        """Every second: this process is alive, and its sessions whose record expired end."""
        while True:
            await asyncio.sleep(1)
            try:
                await self.redis.set(self.process_key, "1", ex=5)
                sessions = [session for session in self.local.values() if not session.ended]
                if not sessions:
                    continue
                async with self.redis.pipeline(transaction=False) as pipe:
                    for session in sessions:
                        pipe.exists(self._key(session.session_id))
                        pipe.get(self._key(session.session_id) + ":ack")
                    answers = await pipe.execute()
                for session, exists, taken in zip(sessions, answers[::2], answers[1::2], strict=True):
                    if not exists:
                        self.loop.create_task(self.end(session))
                    elif taken is not None:
                        self._taken(session.session_id, int(taken))
            except Exception:
                logger.exception("HTTP session upkeep in Redis failed")

    async def stream_alive(self, session_id: str) -> bool:
        record = await self.record(session_id)
        if record is None:
            return False
        await self.touch(session_id)
        return True


_sessions: Sessions | None = None
_starting: asyncio.Task[None] | None = None


async def get_sessions() -> Sessions:
    """This event loop's sessions (one per server process), started on first use."""
    global _sessions, _starting
    loop = asyncio.get_running_loop()
    sessions = _sessions
    if sessions is None or sessions.loop is not loop:
        sessions = _sessions = RedisSessions(loop) if settings.REDIS_URL else LocalSessions(loop)
        _starting = loop.create_task(sessions.start())
    assert _starting is not None
    await _starting
    return sessions


async def stop_sessions() -> None:
    global _sessions
    sessions, _sessions = _sessions, None
    if sessions is None:
        return
    for session in list(sessions.local.values()):
        with contextlib.suppress(Exception):
            await sessions.end(session)
    if isinstance(sessions, RedisSessions):
        await sessions.stop()


# -- the ASGI endpoints -------------------------------------------------------------


class HttpError(Exception):
    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def _read_body(receive: Any, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise HttpError(400, "bad_request", "The request body was cut short.")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise HttpError(
                413,
                "too_large",
                f"At most {MAX_FRAMES_PER_POST} frames of at most "
                f"{settings.REALTIME_MAX_FRAME_BYTES} bytes each per request.",
            )
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def _response(send: Any, status: int, body: Any = None, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    content = b"" if body is None else orjson.dumps(body)
    response_headers = [(b"cache-control", b"no-store"), *(headers or [])]
    if body is not None:
        response_headers.append((b"content-type", b"application/json"))
    response_headers.append((b"content-length", str(len(content)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": response_headers})
    await send({"type": "http.response.body", "body": content})


class Credentials:
    """What a request says about who sends it: a bearer token, a signed-in session cookie, or nothing."""

    __slots__ = ("identity", "kind")

    def __init__(self, kind: str, identity: Identity) -> None:
        self.kind = kind  # "token" | "cookie" | "none"
        self.identity = identity


async def _credentials(scope: dict[str, Any]) -> Credentials:
    authorization = _header(scope, b"authorization")
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise HttpError(401, "unauthorized", "Use 'Authorization: Bearer <access token>'.")
        try:
            return Credentials("token", await identity_from_token(token.strip()))
        except Unauthorized as error:
            raise HttpError(401, "unauthorized", str(error.message)) from None
    session_key = session_key_from_headers(scope.get("headers", []))
    if session_key:
        identity = await db_call(identity_from_session)(session_key)
        if identity.user is not None:
            return Credentials("cookie", identity)
    return Credentials("none", Identity(user=None))


def _check_csrf(scope: dict[str, Any], body: bytes) -> None:
    """Django's CSRF check, for requests a session cookie authenticates."""
    request = ASGIRequest(scope, io.BytesIO(body))
    middleware = CsrfViewMiddleware(lambda request: None)  # type: ignore[arg-type]
    if middleware.process_view(request, None, (), {}) is not None:  # type: ignore[arg-type]
        raise HttpError(403, "forbidden", "CSRF check failed: send the X-CSRFToken header.")


class HttpTransport:
    """ASGI: answers /rt/* (the HTTP transport) and hands everything else to `app`."""

    def __init__(self, app: Any) -> None:
        self.app = app
        redact_access_logs()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        try:
            await self.handle(scope, receive, send, path)
        except HttpError as error:
            await _response(send, error.status, {"detail": error.detail, "code": error.code})

    async def handle(self, scope: dict[str, Any], receive: Any, send: Any, path: str) -> None:
        method = scope["method"]
        routes = {
            (SESSION_PATH, "POST"): self.create,
            (SESSION_PATH, "DELETE"): self.delete,
            (EVENTS_PATH, "GET"): self.events,
            (SEND_PATH, "POST"): self.send_frames,
            (POLL_PATH, "GET"): self.poll,
        }
        view = routes.get((path, method))
        if view is None:
            if path in {SESSION_PATH, EVENTS_PATH, SEND_PATH, POLL_PATH}:
                raise HttpError(405, "method_not_allowed", f"{method} is not allowed here.")
            raise HttpError(404, "not_found", "No such endpoint.")
        if not origin_allowed(scope):
            raise HttpError(403, "forbidden", "This origin is not allowed.")
        await view(scope, receive, send)

    async def _session(self, scope: dict[str, Any], credentials: Credentials) -> tuple[Sessions, str, Record]:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        session_id = (query.get("session") or [""])[0]
        sessions = await get_sessions()
        record = await sessions.record(session_id) if 20 <= len(session_id) <= 100 else None
        if record is None:
            raise HttpError(404, "not_found", "No such transport session (it ended or expired).")
        if credentials.kind != "none" and credentials.identity.user.pk != record.user_id:
            raise HttpError(404, "not_found", "No such transport session (it ended or expired).")
        await sessions.touch(session_id)
        return sessions, session_id, record

    async def create(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = await _read_body(receive, 4096)
        credentials = await _credentials(scope)
        if credentials.kind == "cookie":
            _check_csrf(scope, body)
        sessions = await get_sessions()
        session = await sessions.create(scope, credentials.identity)
        await _response(send, 201, {"session": session.session_id})

    async def delete(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = await _read_body(receive, 4096)
        credentials = await _credentials(scope)
        if credentials.kind == "cookie":
            _check_csrf(scope, body)
        sessions, session_id, record = await self._session(scope, credentials)
        session = sessions.local.get(session_id)
        if session is not None:
            await sessions.end(session)
        else:
            await sessions.push(session_id, record, [None])
        await _response(send, 204)

    async def send_frames(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        limit = MAX_FRAMES_PER_POST * (settings.REALTIME_MAX_FRAME_BYTES + 16) + 2
        body = await _read_body(receive, limit)
        content_type = (_header(scope, b"content-type") or "").split(";")[0].strip().lower()
        if content_type not in {"application/json", "text/plain"}:
            raise HttpError(415, "unsupported_media_type", "Send a JSON array as application/json or text/plain.")
        credentials = await _credentials(scope)
        if credentials.kind == "cookie":
            _check_csrf(scope, body)
        sessions, session_id, record = await self._session(scope, credentials)
        try:
            frames = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise HttpError(400, "bad_request", "The body must be a JSON array of frames.") from None
        if not isinstance(frames, list):
            raise HttpError(400, "bad_request", "The body must be a JSON array of frames.")
        if len(frames) > MAX_FRAMES_PER_POST:
            raise HttpError(413, "too_large", f"At most {MAX_FRAMES_PER_POST} frames per request.")
        # Each element is one client frame, measured and parsed exactly as a WebSocket text frame.
        texts: list[str | None] = [orjson.dumps(frame).decode() for frame in frames]
        if texts:
            await sessions.push(session_id, record, texts)
        await _response(send, 202)

    async def poll(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        credentials = await _credentials(scope)
        sessions, session_id, _ = await self._session(scope, credentials)
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        try:
            cursor = int((query.get("cursor") or ["0"])[0])
        except ValueError:
            raise HttpError(400, "bad_request", "'cursor' must be an integer.") from None
        deadline = time.monotonic() + POLL_WAIT
        while True:
            frames, code = await sessions.read(session_id, cursor, written=False)
            remaining = deadline - time.monotonic()
            if frames or code is not None or remaining <= 0:
                break
            await sessions.wait(session_id, min(remaining, settings.REALTIME_HEARTBEAT))
            await sessions.touch(session_id)
        body: dict[str, Any] = {
            "frames": [orjson.Fragment(frame) for _, frame in frames],
            "cursor": frames[-1][0] if frames else cursor,
        }
        if code is not None:
            body["close"] = code
        await _response(send, 200, body)

    async def events(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        credentials = await _credentials(scope)
        sessions, session_id, _ = await self._session(scope, credentials)
        try:
            cursor = int(_header(scope, b"last-event-id") or 0)
        except ValueError:
            cursor = 0
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/event-stream; charset=utf-8"),
                    (b"cache-control", b"no-store"),
                    # nginx: do not buffer this response
                    (b"x-accel-buffering", b"no"),
                ],
            }
        )
        disconnected = asyncio.Event()

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            disconnected.set()
            sessions._notify(session_id)

        watcher = asyncio.get_running_loop().create_task(watch())
        try:
            await send({"type": "http.response.body", "body": b"retry: 1000\n\n", "more_body": True})
            while not disconnected.is_set():
                frames, code = await sessions.read(session_id, cursor, written=True)
                if frames:
                    chunk = b"".join(b"id: %d\ndata: %s\n\n" % (number, frame.encode()) for number, frame in frames)
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                    cursor = frames[-1][0]
                if code is not None:
                    closing = b'event: close\ndata: {"code": %d}\n\n' % code
                    await send({"type": "http.response.body", "body": closing, "more_body": True})
                    break
                if frames:
                    continue
                await sessions.wait(session_id, settings.REALTIME_HEARTBEAT)
                if disconnected.is_set():
                    break
                if not await sessions.stream_alive(session_id):
                    frames, code = await sessions.read(session_id, cursor, written=True)
                    if code is None and not frames:
                        closing = b'event: close\ndata: {"code": %d}\n\n' % CLOSE_GOING_AWAY
                        await send({"type": "http.response.body", "body": closing, "more_body": True})
                        break
                    continue
                await send({"type": "http.response.body", "body": b": keep-alive\n\n", "more_body": True})
            with contextlib.suppress(Exception):
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            pass  # the client went away mid-write
        finally:
            watcher.cancel()
            with contextlib.suppress(BaseException):
                await watcher
            await sessions.touch(session_id)
