"""Protocol v1 connections (docs/protocol.md): the transport-independent frame handling, and
the WebSocket consumer over /ws/.

`Connection` holds every protocol rule (hello, limits, auth, topics, streams, presence,
replies, close codes); a transport only says how frames leave and how a close is sent:
`WebSocketConnection` here, `realtime.transport_http.HttpSession` for the HTTP transport.

The WebSocket consumer is a plain ASGI application rather than a Channels consumer class: it has no
channel-layer channel of its own (the process hub fans out to it) and does not pay
Channels' per-dispatch database clean-up on every frame. It holds no ORM calls:
each frame leads to at most one `db_call` (realtime.db) call into the registry's
handlers, streams or auth.
"""

import asyncio
import logging
import secrets
import time
from collections import deque
from collections.abc import Awaitable
from typing import Any
from urllib.parse import parse_qs

from django.conf import settings

from config.errors import BadRequest, Invalid, NotJoined, RateLimited, ServiceError, TooManyTopics, Unauthorized
from realtime import protocol, registry
from realtime.auth import Identity, identity_from_session, identity_from_token, session_key_from_headers
from realtime.db import db_call
from realtime.hub import Hub, get_hub
from realtime.limits import ErrorWindow, TokenBucket
from realtime.registry import JoinContext, Joined, SendContext, Throttles, TopicHandler
from realtime.streams import Resume, stream_last_seq, stream_resume
from realtime.users import user_public
from realtime.wire import RawWriter, raw_writer_for, text_frame

logger = logging.getLogger(__name__)

CLOSE_PROTOCOL_ERRORS = 4400
CLOSE_UNAUTHORIZED = 4401
CLOSE_IDLE = 4408
CLOSE_TOO_LARGE = 4413
CLOSE_RATE_LIMITED = 4429
CLOSE_SERVER_ERROR = 1011
# Rate-limited frames tolerated after the first `rate_limited` reply before closing.
RATE_LIMIT_STRIKES = 3
_CLOSE = object()


class Subscription:
    __slots__ = ("key", "pending", "presence_member", "state")

    def __init__(self, key: str) -> None:
        self.key = key
        self.state: Any = None
        self.presence_member: str | None = None
        # Live frames held while a (re)join is in flight, sent after its reply.
        self.pending: list[str] | None = []


class Connection:
    """One client connection: parses frames, enforces limits, joins topics, replies.

    Transports implement `write()` (one frame out, in order) and `close()` (the close code
    after everything queued, then no more frames).
    """

    # Slots keep an idle connection small (docs/performance.md).
    __slots__ = (
        "bucket",
        "closed",
        "conn_id",
        "errors",
        "expires_at",
        "hub",
        "last_frame_at",
        "rate_strikes",
        "scope",
        "subscriptions",
        "throttles",
        "user",
    )

    def __init__(self, scope: dict[str, Any]) -> None:
        self.scope = scope
        self.conn_id = secrets.token_hex(8)
        self.user: Any = None
        self.subscriptions: dict[str, Subscription] = {}
        self.hub: Hub | None = None
        self.closed = False
        self.last_frame_at = time.monotonic()
        rate, refill = settings.REALTIME_RATE
        self.bucket = TokenBucket(rate, refill)
        self.errors = ErrorWindow(limit=10, seconds=10)
        self.rate_strikes = 0
        self.throttles = Throttles()
        # UNIX time the access token expires (None: a session, or anonymous), checked by
        # housekeeping rather than by a timer per connection (a TimerHandle is 590 bytes).
        self.expires_at: float | None = None

    # -- transport ---------------------------------------------------------------

    def write(self, frame: str, wire: bytes | None = None) -> None:
        raise NotImplementedError

    def close(self, code: int) -> None:
        raise NotImplementedError

    # -- lifecycle ---------------------------------------------------------------

    async def start(self, identity: Identity) -> None:
        """Attaches to the process hub, takes the identity and sends `hello`."""
        self.hub = await get_hub()
        self.hub.attach(self)
        await self._set_identity(identity)
        self.write(self.hello_frame())

    def hello_frame(self) -> str:
        return protocol.encode(
            {
                "op": "hello",
                "protocol": protocol.PROTOCOL_VERSION,
                "conn": self.conn_id,
                "user": user_public(self.user) if self.user else None,
                "heartbeat": settings.REALTIME_HEARTBEAT,
                "limits": {
                    "max_frame_bytes": settings.REALTIME_MAX_FRAME_BYTES,
                    "max_topics": settings.REALTIME_MAX_TOPICS,
                },
            }
        )

    async def finish(self) -> None:
        """Leaves every topic and its presence, and detaches (once the transport is gone)."""
        self.closed = True
        await self._cleanup()

    # -- lifecycle ---------------------------------------------------------------

    async def _set_identity(self, identity: Identity) -> None:
        hub = self._hub()
        previous = self.user
        if previous is not None and (identity.user is None or identity.user.pk != previous.pk):
            await hub.user_disconnected(previous.pk, self.conn_id)
        if identity.user is not None and (previous is None or identity.user.pk != previous.pk):
            await hub.user_connected(identity.user.pk, user_public(identity.user), self.conn_id)
        self.user = identity.user
        self.expires_at = identity.expires_at

    async def _cleanup(self) -> None:
        if self.hub is None:
            return
        self.hub.detach(self)
        for subscription in list(self.subscriptions.values()):
            await self._unsubscribe(subscription)
        if self.user is not None:
            await self.hub.user_disconnected(self.user.pk, self.conn_id)

    def housekeeping(self, now: float) -> None:
        """Called by the hub about once a second: closes idle connections, and those whose
        access token expired (so at most about a second after its `exp`)."""
        if self.closed:
            return
        if now - self.last_frame_at > 3 * settings.REALTIME_HEARTBEAT:
            self.close(CLOSE_IDLE)
        elif self.expires_at is not None and time.time() >= self.expires_at:
            self.close(CLOSE_UNAUTHORIZED)

    # -- output ------------------------------------------------------------------

    def deliver(self, key: str, frame: str, wire: bytes | None = None) -> None:
        """A live event from the hub (one shared string, and its frame bytes, for every recipient)."""
        subscription = self.subscriptions.get(key)
        if subscription is None:
            return
        if subscription.pending is not None:
            subscription.pending.append(frame)
        else:
            self.write(frame, wire)

    @property
    def user_id(self) -> int | None:
        return self.user.pk if self.user is not None else None

    def revoke(self, key: str, user_id: int | None, close: int | None = None) -> None:
        """The topic's authorisation ended for this connection's user (or for everyone).

        With `close`, the connection is closed with that code after what is queued (the
        event that explains it), so the client cannot simply rejoin.
        """
        subscription = self.subscriptions.get(key)
        if subscription is None or (user_id is not None and self.user_id != user_id):
            return
        if close is not None:
            # Nothing more is written once closing; the disconnect that follows leaves every
            # topic and its presence (a separate task here could outlive the event loop).
            self.close(close)
            return
        asyncio.get_running_loop().create_task(self._unsubscribe(subscription))

    def reply(self, ref: str, payload: Any = None) -> None:
        self.write(protocol.reply_ok(ref, payload))

    def reply_error(self, ref: str | None, error: ServiceError) -> None:
        if error.code in {"bad_request", "invalid"} and self.errors.hit():
            self.write(protocol.reply_error(ref, error.as_error()) if ref else protocol.error_frame(error.as_error()))
            self.close(CLOSE_PROTOCOL_ERRORS)
            return
        self.write(protocol.reply_error(ref, error.as_error()) if ref else protocol.error_frame(error.as_error()))

    # -- input -------------------------------------------------------------------

    async def on_frame(self, text: str | None, data: bytes | None) -> None:
        self.last_frame_at = time.monotonic()
        size = len(text.encode()) if text is not None and len(text) * 4 > settings.REALTIME_MAX_FRAME_BYTES else 0
        if (data is not None and len(data) > settings.REALTIME_MAX_FRAME_BYTES) or (
            size > settings.REALTIME_MAX_FRAME_BYTES
        ):
            self.close(CLOSE_TOO_LARGE)
            return
        if not self.bucket.take():
            self._rate_limited(text)
            return
        self.rate_strikes = 0
        if text is None:
            self.reply_error(None, BadRequest("Binary frames are not supported; send JSON text frames."))
            return
        try:
            frame = protocol.parse(text)
        except protocol.FrameError as error:
            self.reply_error(error.ref, error)
            return
        try:
            if frame.op == "ping":
                self.write(protocol.pong(frame.ref))
            elif frame.op == "join":
                await self.on_join(frame)
            elif frame.op == "send":
                await self.on_send(frame)
            elif frame.op == "leave":
                await self.on_leave(frame)
            else:
                await self.on_auth(frame)
        except ServiceError as error:
            self.reply_error(frame.ref, error)
        except Exception:
            logger.exception("Frame %s on connection %s failed", frame.op, self.conn_id)
            self.reply_error(frame.ref, ServiceError(f"Unexpected server error (connection {self.conn_id})."))

    def _rate_limited(self, text: str | None) -> None:
        self.rate_strikes += 1
        if self.rate_strikes > RATE_LIMIT_STRIKES:
            self.close(CLOSE_RATE_LIMITED)
            return
        error = RateLimited("Too many frames; slow down.", fields={"retry_after": self.bucket.retry_after()})
        try:
            ref = protocol.parse(text).ref if text is not None else None
        except protocol.FrameError as frame_error:
            ref = frame_error.ref
        self.write(protocol.reply_error(ref, error.as_error()) if ref else protocol.error_frame(error.as_error()))

    async def on_auth(self, frame: protocol.ClientFrame) -> None:
        if not isinstance(frame.token, str):
            raise BadRequest("Field 'token' must be a string.")
        identity = await identity_from_token(frame.token)
        if self.user is not None and identity.user.pk != self.user.pk:
            # Another person now: nothing joined for the previous one may stay.
            for subscription in list(self.subscriptions.values()):
                await self._unsubscribe(subscription)
        await self._set_identity(identity)
        self.reply(frame.ref, {"user": user_public(identity.user)})

    async def on_join(self, frame: protocol.ClientFrame) -> None:
        assert frame.topic is not None  # parse() guarantees it for `join`
        handler, key = registry.resolve(frame.topic, self.user)
        existing = self.subscriptions.get(key)
        if existing is None and len(self.subscriptions) >= settings.REALTIME_MAX_TOPICS:
            raise TooManyTopics(f"At most {settings.REALTIME_MAX_TOPICS} topics per connection.")
        hub = self._hub()
        subscription = existing or Subscription(key)
        if existing is None:
            self.subscriptions[key] = subscription
            await hub.subscribe(key, self)
        else:
            subscription.pending = subscription.pending if subscription.pending is not None else []
        try:
            ctx = JoinContext(
                key=key,
                name=frame.topic,
                argument=frame.topic.partition(":")[2] or None,
                user=self.user,
                params=frame.params,
                conn_id=self.conn_id,
                client_address=self.client_address,
            )
            joined, resume = await db_call(_join_in_thread)(handler, ctx)
            reply = dict(joined.reply)
            if resume is not None:
                reply["missed"] = [protocol.raw_json(missed) for missed in resume.frames]
                reply["reset"] = resume.reset
                reply["seq"] = resume.seq
            if handler.presence:
                member = joined.presence_member or (f"u:{self.user.pk}" if self.user else f"a:{self.conn_id}")
                info = joined.presence_info or (user_public(self.user) if self.user else {"name": "Anonymous"})
                if subscription.presence_member not in (None, member):
                    await hub.presence_remove(key, subscription.presence_member, self.conn_id)
                subscription.presence_member = member
                snapshot = await hub.presence_join(key, member, info, self.conn_id, joined.presence_group)
                reply.update(handler.presence_reply(key, snapshot))
        except BaseException:
            if existing is None:
                await self._unsubscribe(subscription)
            else:
                self._flush_pending(subscription)
            raise
        subscription.state = joined.state
        self.reply(frame.ref, reply)
        self._flush_pending(subscription)

    def _flush_pending(self, subscription: Subscription) -> None:
        pending, subscription.pending = subscription.pending, None
        for live in pending or ():
            self.write(live)

    async def on_leave(self, frame: protocol.ClientFrame) -> None:
        assert frame.topic is not None  # parse() guarantees it for `leave`
        _, key = registry.resolve(frame.topic, self.user)
        subscription = self.subscriptions.get(key)
        if subscription is None:
            raise NotJoined(f"Not joined to {frame.topic!r}.")
        await self._unsubscribe(subscription)
        self.reply(frame.ref)

    async def _unsubscribe(self, subscription: Subscription) -> None:
        self.subscriptions.pop(subscription.key, None)
        if self.hub is None:
            return
        self.hub.unsubscribe(subscription.key, self)
        if subscription.presence_member is not None:
            await self.hub.presence_remove(subscription.key, subscription.presence_member, self.conn_id)

    async def on_send(self, frame: protocol.ClientFrame) -> None:
        assert frame.topic is not None and frame.event is not None  # parse() guarantees both for `send`
        handler, key = registry.resolve(frame.topic, self.user)
        handler.event_for(frame.event)
        subscription = self.subscriptions.get(key)
        if subscription is None:
            raise NotJoined(f"Join {frame.topic!r} before sending to it.")
        if not isinstance(frame.payload, dict):
            raise Invalid("The payload must be an object.", fields={"payload": "Must be an object."})
        ctx = SendContext(
            key=key,
            name=frame.topic,
            event=frame.event,
            payload=frame.payload,
            user=self.user,
            state=subscription.state,
            conn_id=self.conn_id,
            throttles=self.throttles,
            client_address=self.client_address,
        )
        self.reply(frame.ref, await handler.send(ctx))

    @property
    def client_address(self) -> str:
        client = self.scope.get("client")
        return str(client[0]) if client else ""

    def _hub(self) -> Hub:
        assert self.hub is not None, "the hub is attached before the first frame is read"
        return self.hub


def _asgi_closable(code: int) -> bool:
    """Codes every server's websocket.close sends (autobahn, under daphne, refuses the rest)."""
    return code == 1000 or 3000 <= code <= 4999


class WebSocketConnection(Connection):
    """Protocol v1 over one WebSocket: frames go out as WebSocket messages, in order."""

    __slots__ = ("_outbox", "_outbox_bytes", "_raw", "_send", "_writing")

    def __init__(self, scope: dict[str, Any], send: Any) -> None:
        super().__init__(scope)
        self._send = send
        # Frames waiting for ASGI send, created on first use: with a raw writer only a close
        # ever waits here, and an empty deque is 600 bytes on every idle connection.
        self._outbox: deque[Any] | None = None
        self._outbox_bytes = 0
        self._writing = False
        self._raw: RawWriter | None = None

    async def run(self, receive: Any) -> None:
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        identity, token_error = await self._identify()
        await self._send({"type": "websocket.accept"})
        self._raw = raw_writer_for(self._send, settings.REALTIME_MAX_BUFFERED_BYTES)
        if self._raw is not None:
            # Read only before accept (origin, cookie, token). The servers a raw writer knows
            # never read the scope again, so idle connections need not keep them.
            self.scope["headers"] = []
            self.scope["query_string"] = b""
        if token_error:
            # A bad ?token= is never downgraded to anonymous (protocol section 1).
            await self._send({"type": "websocket.close", "code": CLOSE_UNAUTHORIZED})
            return
        try:
            await self.start(identity)
            while True:
                message = await receive()
                kind = message["type"]
                if kind == "websocket.disconnect":
                    break
                if kind == "websocket.receive" and not self.closed:
                    await self.on_frame(message.get("text"), message.get("bytes"))
        finally:
            await self.finish()

    async def _identify(self) -> tuple[Identity, bool]:
        """The identity from `?token=` or the session cookie; True when the token is bad."""
        tokens = parse_qs(self.scope.get("query_string", b"").decode("latin-1")).get("token")
        if tokens:
            try:
                return await identity_from_token(tokens[0]), False
            except Unauthorized:
                return Identity(user=None), True
        session_key = session_key_from_headers(self.scope.get("headers", []))
        if session_key:
            return await db_call(identity_from_session)(session_key), False
        return Identity(user=None), False  # nothing to look up: no database call

    def close(self, code: int) -> None:
        """Sends the close frame after everything already queued, and stops reading frames."""
        if self.closed:
            return
        self.closed = True
        self._queue((_CLOSE, code))

    def write(self, frame: str, wire: bytes | None = None) -> None:
        """Sends or queues one frame; drops the connection when its unsent output passes the bound.

        `wire` is the frame already built as WebSocket bytes (shared by every recipient).
        """
        if self.closed:
            return
        raw = self._raw
        if raw is not None:  # (with a raw writer, only a close goes through the outbox)
            if not raw.send(text_frame(frame.encode()) if wire is None else wire):
                self._drop_slow_reader()
            return
        self._outbox_bytes += len(frame)
        if self._outbox_bytes > settings.REALTIME_MAX_BUFFERED_BYTES:
            self._drop_slow_reader()
            return
        self._queue(frame)

    def _queue(self, item: Any) -> None:
        """Appends a frame (or the close) to the outbox, drained in order by one task."""
        if self._outbox is None:
            self._outbox = deque()
        self._outbox.append(item)
        if not self._writing:
            self._writing = True
            asyncio.get_running_loop().create_task(self._drain(self._outbox))

    async def _drain(self, outbox: deque[Any]) -> None:
        try:
            while outbox:
                item = outbox.popleft()
                if isinstance(item, tuple):
                    code = item[1]
                    if self._raw is not None and self._raw.can_close_any_code and not _asgi_closable(code):
                        self._raw.close(code)
                    else:
                        await self._send({"type": "websocket.close", "code": code})
                    self._clear_outbox()
                    return
                self._outbox_bytes -= len(item)
                await self._send({"type": "websocket.send", "text": item})
        except Exception:
            # The client went away mid-write; the disconnect message ends run().
            self._clear_outbox()
        finally:
            self._writing = False

    def _clear_outbox(self) -> None:
        if self._outbox is not None:
            self._outbox.clear()
        self._outbox_bytes = 0

    def _drop_slow_reader(self) -> None:
        logger.warning("Dropping connection %s: it is not reading its frames", self.conn_id)
        self.closed = True
        self._clear_outbox()
        if self._raw is not None:
            self._raw.abort()
        else:
            asyncio.get_running_loop().create_task(self._send({"type": "websocket.close", "code": CLOSE_SERVER_ERROR}))


def _join_in_thread(handler: TopicHandler, ctx: JoinContext) -> tuple[Joined, Resume | None]:
    if not handler.replayable:
        return handler.join(ctx), None
    # The head before the state: the reply then shows every event up to the seq it gives,
    # and a handler may key a cache of the topic's state by it (JoinContext.head).
    ctx.head = stream_last_seq(ctx.key)
    joined = handler.join(ctx)
    since = ctx.params.get("since")
    if since is not None and (isinstance(since, bool) or not isinstance(since, int) or since < 0):
        raise Invalid("'since' must be a non-negative integer seq.", fields={"since": "Must be an integer >= 0."})
    return joined, stream_resume(topic=ctx.key, since=since, last=ctx.head)


class RealtimeConsumer:
    """ASGI entry point for /ws/ (see config/asgi.py)."""

    # An ASGI 3 application although __call__ is not `async def` (asgiref's marker).
    _asgi_single_callable = True

    def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Awaitable[None]:
        # The connection's own coroutine, not one awaiting it: one frame less per open socket.
        return WebSocketConnection(scope, send).run(receive)
