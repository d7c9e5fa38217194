"""The per-process hub: one channel-layer subscription per topic, local fan-out.

Every server process runs one Hub on its event loop. The hub owns one channel-layer
channel and adds it to a topic's group when the first local connection joins that
topic (and discards it when the last one leaves). An event published anywhere reaches
each process once, as one pre-encoded frame, and the hub hands that same string to
every local connection on the topic: no layer message, consumer dispatch or JSON
encoding per recipient.

Layer operations (group add/discard, sends) go through one ordered queue, so events
published from this process leave in the order they were published. On the in-memory
layer, which no other process can share, the hub delivers its own sends itself, in the
same order, without the layer.
"""

import asyncio
import contextlib
import contextvars
import gc
import logging
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol

from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings

from realtime import protocol, registry
from realtime.db import db_call
from realtime.presence import LocalPresence, RedisPresence
from realtime.wire import text_frame

if TYPE_CHECKING:
    from realtime.presence import Snapshot

logger = logging.getLogger(__name__)

EVENT_TYPE = "rt.event"
# A message the hub sends to its own channel: back means the layer delivers to this process.
PROBE_TYPE = "rt.probe"
# How long start (and a rebuild) waits for the probe before going on without it.
PROBE_SECONDS = 5.0
# The presence key tracking which signed-in users have any connection at all.
ONLINE_KEY = "online"
# How often each process looks at Redis (a PING-like INFO) to notice an outage or a restart.
REDIS_WATCH_SECONDS = 1.0
# Every hub listens on this group for messages about users rather than topics
# (a deactivated user's connections are closed on every process).
USERS_GROUP = "rt-users"
CLOSE_REMOVED = 4403
CLOSE_GOING_AWAY = 1001
# On SIGTERM, how long open connections get to take their 1001 and go before the server stops.
DRAIN_SECONDS = 5.0


# Hub messages that each process answers for its own connections rather than by handing
# on a frame: `{"type": EVENT_TYPE, "local": <name>, ...}` -> local_handlers[name](hub, message),
# on the hub's loop (the inbox's `unread` recounts: realtime/inbox.py).
local_handlers: dict[str, Callable[["Hub", dict[str, Any]], None]] = {}


class Recipient(Protocol):
    conn_id: str

    @property
    def user_id(self) -> int | None: ...

    def deliver(self, key: str, frame: str, wire: bytes) -> None: ...

    def revoke(self, key: str, user_id: int | None, close: int | None) -> None: ...

    def close(self, code: int) -> None: ...

    def housekeeping(self, now: float) -> None: ...


def group_name(key: str) -> str:
    """Channel-layer group of a topic key (keys are validated by the registry)."""
    return "rt." + key.replace(":", ".")


class Hub:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.layer = get_channel_layer()
        # Nothing sent to an in-memory layer can reach another process, and its group_send
        # scans every group for expired messages (17.5 % of a chat server's time).
        self.delivers_locally = isinstance(self.layer, InMemoryChannelLayer)
        self.channel = ""
        self.topics: dict[str, dict[str, Recipient]] = {}
        self.connections: dict[str, Recipient] = {}
        self.presence: LocalPresence | RedisPresence = (
            RedisPresence(settings.REDIS_URLS, settings.REALTIME_PRESENCE_TTL, settings.REALTIME_REDIS_PREFIX)
            if settings.REDIS_URLS
            else LocalPresence()
        )
        # Presence entries this process owns: (key, member, conn_id) -> (member info, group),
        # kept so they can be written again to a Redis that restarted empty.
        self.presence_entries: dict[tuple[str, str, str], tuple[dict[str, Any], str | None]] = {}
        self._pending_diffs: dict[str, dict[str, tuple[dict[str, Any], int]]] = {}
        self._operations: asyncio.Queue[tuple[str, str, Any, asyncio.Future[None] | None]] = asyncio.Queue()
        self._online_changes: asyncio.Queue[tuple[int, bool]] = asyncio.Queue()
        self._debounced: set[str] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self.ready: asyncio.Task[None] | None = None
        self._stopping = False
        self._receive_task: asyncio.Task[None] | None = None
        # Redis as the watch last saw it: its run id, and whether it was unreachable.
        self._redis_run_id: str | None = None
        self._redis_down = False
        self.draining = False
        self._drained = asyncio.Event()  # set when the last connection left a draining hub
        self._probes: dict[str, asyncio.Future[None]] = {}

    # -- lifecycle ---------------------------------------------------------------

    async def start(self) -> None:
        self.channel = await self.layer.new_channel("rt-hub.")
        try:
            await self.layer.group_add(USERS_GROUP, self.channel)
        except Exception:
            logger.exception("Channel layer group_add on %s failed", USERS_GROUP)
        self._receive_task = self.loop.create_task(self._receive_loop(), name="realtime-hub-receive")
        self._tasks = [
            self.loop.create_task(self._operation_loop(), name="realtime-hub-operations"),
            self.loop.create_task(self._housekeeping_loop(), name="realtime-hub-housekeeping"),
            self.loop.create_task(self._online_signal_loop(), name="realtime-hub-online"),
        ]
        if isinstance(self.presence, RedisPresence):
            self._tasks.append(self.loop.create_task(self._redis_watch_loop(), name="realtime-hub-redis-watch"))
        self._drain_on_sigterm()
        await self._probe_layer()
        _freeze_startup_objects()

    async def _probe_layer(self) -> None:
        """Returns once a message sent to this hub's channel has come back through the layer.

        channels_redis' receiver sleeps 100 ms when it starts before its first read, so
        without this the first events after a process starts reached its clients late,
        and one killed in that window never delivered them live at all."""
        token = uuid.uuid4().hex
        arrived = self._probes[token] = self.loop.create_future()
        try:
            await self.layer.send(self.channel, {"type": PROBE_TYPE, "token": token})
            await asyncio.wait_for(arrived, PROBE_SECONDS)
        except Exception:
            logger.warning("The channel layer did not deliver this hub's probe in %s s", PROBE_SECONDS)
        finally:
            self._probes.pop(token, None)

    async def stop(self) -> None:
        """Leaves every group and stops the hub's tasks (tests and shutdown)."""
        self._stopping = True
        with contextlib.suppress(Exception):
            await self.layer.group_discard(USERS_GROUP, self.channel)
        for key in list(self.topics):
            with contextlib.suppress(Exception):
                await self.layer.group_discard(group_name(key), self.channel)
        self.topics.clear()
        tasks = [*self._tasks, *([self._receive_task] if self._receive_task else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        if self.presence_entries:
            for key, member, conn_id in list(self.presence_entries):
                with contextlib.suppress(Exception):
                    await self.presence.remove(key, member, conn_id)
            self.presence_entries.clear()
        await self.presence.close()

    # -- connections and topics --------------------------------------------------

    def attach(self, conn: Recipient) -> None:
        self.connections[conn.conn_id] = conn
        if self.draining:  # this process is stopping: the client goes to another one
            self.loop.call_soon(conn.close, CLOSE_GOING_AWAY)

    # -- graceful drain ----------------------------------------------------------

    def _drain_on_sigterm(self) -> None:
        """Wraps the server's SIGTERM handler (uvicorn's, daphne's) so that a stopping process
        first closes every connection with 1001, which clients answer by reconnecting
        elsewhere, instead of uvicorn's 1012 or daphne's dropped sockets."""
        if threading.current_thread() is not threading.main_thread():
            return
        # daphne (Twisted's asyncio reactor) handles SIGTERM through the event loop's signal
        # handlers; uvicorn through signal.signal. Either way ours runs first, then theirs.
        handle = getattr(self.loop, "_signal_handlers", {}).get(signal.SIGTERM)
        if handle is not None:
            callback, args = handle._callback, handle._args
            self.loop.add_signal_handler(
                signal.SIGTERM, lambda: self.loop.create_task(self._drain(lambda *_: callback(*args), 0, None))
            )
            return
        previous = signal.getsignal(signal.SIGTERM)
        if not callable(previous):  # no server handles SIGTERM here (tests, a shell)
            return

        def on_sigterm(signum: int, frame: Any) -> None:
            self.loop.call_soon_threadsafe(lambda: self.loop.create_task(self._drain(previous, signum, frame)))

        signal.signal(signal.SIGTERM, on_sigterm)

    async def _drain(self, stop_server: Callable[[int, Any], Any], signum: int, frame: Any) -> None:
        if self.draining:
            return
        self.draining = True
        logger.warning("Draining: closing %d connections with 1001", len(self.connections))
        for conn in list(self.connections.values()):
            conn.close(CLOSE_GOING_AWAY)
        if self.connections:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._drained.wait(), DRAIN_SECONDS)
        # uvicorn's handler would re-raise SIGTERM at exit (status -15) after a clean stop:
        # ask its server to exit instead, so a drained process exits 0.
        server = getattr(stop_server, "__self__", None)
        if server is not None and hasattr(server, "should_exit"):
            server.should_exit = True
        else:
            stop_server(signum, frame)

    def detach(self, conn: Recipient) -> None:
        self.connections.pop(conn.conn_id, None)
        if self.draining and not self.connections:
            self._drained.set()

    async def subscribe(self, key: str, conn: Recipient) -> None:
        """Adds a local connection to a topic; the first one subscribes this process.

        Returns once this process is subscribed, so an event committed after this
        returns cannot be missed by the connection.
        """
        local = self.topics.get(key)
        if local is None:
            local = self.topics[key] = {}
            local[conn.conn_id] = conn
            await self._operate("add", group_name(key))
        else:
            local[conn.conn_id] = conn

    def unsubscribe(self, key: str, conn: Recipient) -> None:
        local = self.topics.get(key)
        if local is None or local.pop(conn.conn_id, None) is None:
            return
        if not local:
            del self.topics[key]
            self._operations.put_nowait(("discard", group_name(key), None, None))

    # -- publishing --------------------------------------------------------------

    def send_event(self, key: str, frame: str, exclude: str | None) -> None:
        """Queues one event for every process subscribed to `key` (call on the hub's loop)."""
        self.send_group(group_name(key), {"type": EVENT_TYPE, "key": key, "frame": frame, "exclude": exclude})

    def send_group(self, group: str, message: dict[str, Any]) -> None:
        if self.delivers_locally:
            # What the layer would hand back to this hub's receive loop, without the layer.
            # call_soon keeps the order of sends, and delivers after the caller's current
            # step as the layer did (a sender's reply still goes out before its own event).
            self.loop.call_soon(self._dispatch, message)
            return
        self._operations.put_nowait(("send", group, message, None))

    def fanout(self, key: str, frame: str, exclude: str | None) -> None:
        """Hands one encoded frame, and its WebSocket bytes, to every local connection on the topic."""
        local = self.topics.get(key)
        if not local:
            return
        wire = text_frame(frame.encode())
        skip = local.get(exclude) if exclude is not None else None
        # The per-recipient loop of every fan-out: keep it to one call per connection.
        for conn in list(local.values()):
            if conn is not skip:
                conn.deliver(key, frame, wire)

    def _revoke(self, key: str, user_id: int | None, close: int | None, conn_id: str | None = None) -> None:
        for conn in list(self.topics.get(key, {}).values()):
            if conn_id is None or conn.conn_id == conn_id:
                conn.revoke(key, user_id, close)

    def _disconnect_user(self, user_id: int, code: int) -> None:
        for conn in list(self.connections.values()):
            if conn.user_id == user_id:
                conn.close(code)

    async def _operate(self, kind: str, group: str) -> None:
        done: asyncio.Future[None] = self.loop.create_future()
        self._operations.put_nowait((kind, group, None, done))
        await done

    async def _operation_loop(self) -> None:
        while True:
            kind, group, message, done = await self._operations.get()
            try:
                if kind == "send":
                    await self.layer.group_send(group, message)
                elif kind == "add":
                    await self.layer.group_add(group, self.channel)
                else:
                    # A connection may have re-joined while the discard waited in the queue.
                    if group != USERS_GROUP and group not in {group_name(key) for key in self.topics}:
                        await self.layer.group_discard(group, self.channel)
            except Exception:
                # A broken layer (Redis down) must not lose the hub; the write that
                # produced the event is already committed and resumable by seq.
                logger.exception("Channel layer %s on %s failed", kind, group)
            finally:
                if done is not None and not done.done():
                    done.set_result(None)

    async def _receive_loop(self) -> None:
        while True:
            try:
                message = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("Channel layer receive failed; retrying")
                await asyncio.sleep(1)
                continue
            if message.get("type") != EVENT_TYPE:
                probe = self._probes.get(message.get("token", "")) if message.get("type") == PROBE_TYPE else None
                if probe is not None and not probe.done():
                    probe.set_result(None)
                continue
            self._dispatch(message)

    def _dispatch(self, message: dict[str, Any]) -> None:
        """Acts on one hub message: a local handler's, a user to disconnect, an event to fan
        out or a revocation."""
        if message.get("local") is not None:
            self._run_local_handler(message)
        elif message.get("disconnect_user") is not None:
            self._disconnect_user(message["disconnect_user"], message["close"])
        elif message["frame"] is not None:
            self.fanout(message["key"], message["frame"], message.get("exclude"))
        else:
            self._revoke(message["key"], message.get("revoke_user"), message.get("close"), message.get("revoke_conn"))

    def _run_local_handler(self, message: dict[str, Any]) -> None:
        handler = local_handlers.get(message["local"])
        if handler is None:
            logger.warning("No local handler %r in this process", message["local"])
            return
        try:
            handler(self, message)
        except Exception:
            logger.exception("Local handler %r failed", message["local"])

    def debounce(self, key: str, seconds: float, func: Callable[[], None]) -> None:
        """Runs `func` in the database thread `seconds` from now, once for all calls with `key` until then."""
        if key in self._debounced or self._stopping:
            return
        self._debounced.add(key)
        # A fresh context: this call may come from the database thread, whose context
        # (copied by call_soon_threadsafe) marks its executor as busy, and db_call would refuse.
        self.loop.call_later(
            seconds,
            lambda: self.loop.create_task(self._run_debounced(key, func), context=contextvars.Context()),
            context=contextvars.Context(),
        )

    async def _run_debounced(self, key: str, func: Callable[[], None]) -> None:
        self._debounced.discard(key)
        try:
            await db_call(func)()
        except Exception:
            logger.exception("Debounced %s failed", key)

    # -- presence ----------------------------------------------------------------

    async def presence_add(
        self, key: str, member: str, info: dict[str, Any], conn_id: str, group: str | None = None
    ) -> None:
        if (key, member, conn_id) in self.presence_entries:
            return
        self.presence_entries[(key, member, conn_id)] = (info, group)
        try:
            first = await self.presence.add(key, member, info, conn_id, group)
        except Exception:
            # Redis is down: the entry is kept and written again when Redis is back.
            logger.exception("Presence add on %s failed", key)
            return
        if first:
            self._note_presence(key, member, info, +1)

    async def presence_join(
        self, key: str, member: str, info: dict[str, Any], conn_id: str, group: str | None = None
    ) -> "Snapshot":
        """Records the connection's presence on the topic and returns the topic's presence with
        the joiner in it (one Redis round trip for both); raises when presence is unreachable."""
        handler = registry.handler_for(key)
        pinned = handler.presence_pinned if handler is not None else ()
        known = (key, member, conn_id) in self.presence_entries  # joining again: no arrival
        self.presence_entries[(key, member, conn_id)] = (info, group)
        first, snapshot = await self.presence.join(key, member, info, conn_id, group, pinned=pinned)
        if first and not known:
            self._note_presence(key, member, info, +1)
        return snapshot

    async def presence_remove(self, key: str, member: str, conn_id: str) -> None:
        entry = self.presence_entries.pop((key, member, conn_id), None)
        if entry is None:
            return
        try:
            last = await self.presence.remove(key, member, conn_id)
        except Exception:
            # Redis is down: a heartbeat removes the entry once this process is gone, or a
            # Redis restart took it already.
            logger.exception("Presence remove on %s failed", key)
            return
        if last:
            self._note_presence(key, member, entry[0], -1)

    async def presence_snapshot(self, key: str) -> "Snapshot":
        """The topic's presence: a capped list (the handler's pinned members first), counts."""
        handler = registry.handler_for(key)
        pinned = handler.presence_pinned if handler is not None else ()
        return await self.presence.snapshot(key, pinned=pinned)

    async def user_connected(self, user_id: int, info: dict[str, Any], conn_id: str) -> None:
        await self.presence_add(ONLINE_KEY, f"u:{user_id}", info, conn_id)

    async def user_disconnected(self, user_id: int, conn_id: str) -> None:
        await self.presence_remove(ONLINE_KEY, f"u:{user_id}", conn_id)

    def _note_presence(self, key: str, member: str, info: dict[str, Any], change: int) -> None:
        """Coalesces presence changes of a topic into one `presence.diff` per window."""
        if key == ONLINE_KEY:
            self._online_changes.put_nowait((int(member[2:]), change > 0))
            return
        pending = self._pending_diffs.get(key)
        if pending is None:
            pending = self._pending_diffs[key] = {}
            handler = registry.handler_for(key)
            window = (handler.presence_window_ms if handler else None) or settings.REALTIME_PRESENCE_WINDOW_MS
            self.loop.call_later(window / 1000, self._flush_presence, key)
        _, previous = pending.get(member, (info, 0))
        pending[member] = (info, previous + change)

    def _flush_presence(self, key: str) -> None:
        pending = self._pending_diffs.pop(key, {})
        joins = [info for info, change in pending.values() if change > 0]
        leaves = [info for info, change in pending.values() if change < 0]
        if (joins or leaves) and not self._stopping:
            self.loop.create_task(self._publish_diff(key, joins, leaves))

    async def _publish_diff(self, key: str, joins: list[dict[str, Any]], leaves: list[dict[str, Any]]) -> None:
        """One coalesced presence change: `presence.diff`, or the handler's room summary."""
        try:
            await self._publish_presence_change(key, joins, leaves)
        except Exception:
            logger.exception("Presence change on %s could not be published", key)

    async def _publish_presence_change(
        self, key: str, joins: list[dict[str, Any]], leaves: list[dict[str, Any]]
    ) -> None:
        handler = registry.handler_for(key)
        if handler is not None and handler.room_event is not None:
            event, payload = handler.room_event, handler.room_summary(key, await self.presence_snapshot(key))
        else:
            count = await self.presence.count(key)
            event, payload = "presence.diff", {"joins": joins, "leaves": leaves, "count": count}
        self.send_event(key, protocol.event_frame(registry.client_topic(key), event, payload), None)

    async def _online_signal_loop(self) -> None:
        """Sends user_presence_changed in order, off the event loop (receivers use the ORM)."""
        from realtime.signals import user_presence_changed

        def send(changes: list[tuple[int, bool]]) -> None:
            # A receiver that fails is logged by Django (logger django.dispatch); the others still run.
            user_presence_changed.send_robust(sender=Hub, changes=changes)

        while True:
            # Every change queued by now in one signal, one trip to the database thread (a
            # connect storm queues thousands; one hop or query each cost more than the rest).
            changes = [await self._online_changes.get()]
            while not self._online_changes.empty():
                changes.append(self._online_changes.get_nowait())
            try:
                await db_call(send)(changes)
            except Exception:
                logger.exception("Sending user_presence_changed failed")

    # -- housekeeping ------------------------------------------------------------

    async def _housekeeping_loop(self) -> None:
        tick = max(0.2, min(1.0, settings.REALTIME_HEARTBEAT / 4))
        presence_every = max(1.0, settings.REALTIME_PRESENCE_TTL / 3)
        last_presence = time.monotonic()
        while True:
            await asyncio.sleep(tick)
            now = time.monotonic()
            for conn in list(self.connections.values()):
                try:
                    conn.housekeeping(now)
                except Exception:
                    logger.exception("Housekeeping of connection %s failed", conn.conn_id)
            if now - last_presence >= presence_every:
                last_presence = now
                try:
                    await self._presence_upkeep()
                except Exception:
                    logger.exception("Presence upkeep failed")

    async def _redis_watch_loop(self) -> None:
        """Notices Redis going away and coming back (or restarting between two looks) and
        then rebuilds what this process had there: its subscriptions and presence entries."""
        assert isinstance(self.presence, RedisPresence)
        while True:
            await asyncio.sleep(REDIS_WATCH_SECONDS)
            try:
                run_id = await self.presence.server_run_id()
            except Exception:
                if not self._redis_down:
                    logger.warning("Redis is unreachable; live delivery and presence wait for it")
                self._redis_down = True
                continue
            if self._redis_down or (self._redis_run_id is not None and run_id != self._redis_run_id):
                try:
                    await self._rebuild_after_redis_outage()
                except Exception:
                    logger.exception("Rebuilding after a Redis outage failed; retrying")
                    self._redis_down = True
                    continue
            self._redis_down = False
            self._redis_run_id = run_id

    async def _rebuild_after_redis_outage(self) -> None:
        # Presence first, written back without announcing (for everyone else these members
        # never left), so that a client who sees live delivery back also sees who is there.
        for (key, member, conn_id), (info, group) in list(self.presence_entries.items()):
            await self.presence.add(key, member, info, conn_id, group)
        # channels_redis does not subscribe again on a new connection: start the layer afresh
        # and subscribe this process to every topic it serves.
        if self._receive_task is not None:
            self._receive_task.cancel()
            with contextlib.suppress(BaseException):
                await self._receive_task
        await self.layer.flush()
        self.channel = await self.layer.new_channel("rt-hub.")
        self._receive_task = self.loop.create_task(self._receive_loop(), name="realtime-hub-receive")
        await self.layer.group_add(USERS_GROUP, self.channel)
        for key in list(self.topics):
            await self.layer.group_add(group_name(key), self.channel)
        await self._probe_layer()
        logger.warning(
            "Redis is back: subscribed again to %d topics, rebuilt %d presence entries",
            len(self.topics),
            len(self.presence_entries),
        )

    async def _presence_upkeep(self) -> None:
        """Keeps this process alive in presence (a few Redis commands per heartbeat, whatever the
        number of connections) and reports the members of dead processes as gone."""
        beat = await self.presence.heartbeat()
        for key, member, info in beat.gone:
            self._note_presence(key, member, info, -1)
        if (
            beat.lost
            and isinstance(self.presence, RedisPresence)
            and await self.presence.server_run_id() == self._redis_run_id
        ):
            # Taken for dead while alive (stalled past the TTL): everyone saw these members
            # leave, so write them back as arrivals. (After a Redis restart, which the run id
            # shows, the watch loop writes them back without announcing instead.)
            logger.warning("Presence: this process was taken for dead; writing its entries back")
            for (key, member, conn_id), (info, group) in list(self.presence_entries.items()):
                if await self.presence.add(key, member, info, conn_id, group):
                    self._note_presence(key, member, info, +1)


_hub: Hub | None = None
_frozen = False


def _freeze_startup_objects() -> None:
    """Once per process, when its first hub starts: what exists by then (Django, the apps, the
    server) lives as long as the process, so it leaves the garbage collector's reach, and the
    full collections that thousands of new connections trigger scan their objects only."""
    global _frozen
    if not _frozen:
        _frozen = True
        gc.freeze()


async def get_hub() -> Hub:
    """The hub of the running event loop, started on first use."""
    global _hub
    loop = asyncio.get_running_loop()
    hub = _hub
    if hub is None or hub.loop is not loop:
        hub = _hub = Hub(loop)
        hub.ready = loop.create_task(hub.start())
    assert hub.ready is not None
    await hub.ready
    return hub


def running_hub() -> Hub | None:
    """The hub if its loop is running (possibly in another thread), else None."""
    hub = _hub
    if hub is None or hub.loop.is_closed() or not hub.loop.is_running() or hub._stopping:
        return None
    return hub


async def stop_hub() -> None:
    global _hub
    hub, _hub = _hub, None
    if hub is not None:
        await hub.stop()


def present_members(key: str, members: Iterable[str]) -> set[str]:
    """Which of these members (`u:<id>`, or a handler's own keys) are present in topic `key`
    on any server process; for sync code (services, REST views)."""
    wanted = list(dict.fromkeys(members))
    if not wanted:
        return set()
    if settings.REDIS_URLS:
        return RedisPresence.present_sync(settings.REDIS_URLS, settings.REALTIME_REDIS_PREFIX, key, wanted)
    hub = _hub
    if hub is None or not isinstance(hub.presence, LocalPresence):
        return set()
    present = set(hub.presence.topics.get(key, {}).copy())
    return {member for member in wanted if member in present}


def presence_state(key: str) -> "Snapshot":
    """The presence of topic `key` on every server process (capped list, count, group counts),
    for sync code off the event loop (REST views): what a join reply's presence part is built from."""
    from realtime.presence import Snapshot

    hub = running_hub()
    if hub is not None:
        return asyncio.run_coroutine_threadsafe(hub.presence_snapshot(key), hub.loop).result(timeout=10)
    urls = settings.REDIS_URLS
    if urls:
        # No server loop in this process (a management command): a short-lived client.
        async def read() -> "Snapshot":
            presence = RedisPresence(urls, settings.REALTIME_PRESENCE_TTL, settings.REALTIME_REDIS_PREFIX)
            try:
                handler = registry.handler_for(key)
                return await presence.snapshot(key, pinned=handler.presence_pinned if handler else ())
            finally:
                await presence.close()

        return asyncio.run(read())
    return Snapshot(members=[], count=0)


def online_user_ids(user_ids: Iterable[int]) -> set[int]:
    """Which of these users have a connection open on any server process (sync code)."""
    present = present_members(ONLINE_KEY, (f"u:{int(user_id)}" for user_id in user_ids))
    return {int(member[2:]) for member in present}
