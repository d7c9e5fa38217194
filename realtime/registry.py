"""The topic registry: feature apps plug their topics into the realtime core here.

An app subclasses TopicHandler and calls `register(MyHandler())` from its
AppConfig.ready(). The core never imports a feature app; it only looks handlers up
by the prefix of a topic name (`chat` for `chat:12`).

A handler's `send` events are a table (`events`): each event name maps to an
`Event`, its payload validator (the DRF serializer the matching REST endpoint uses)
and the function that calls one service. Adding an event is one line there.
"""

import math
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rest_framework import serializers

from config.errors import BadRequest, Invalid, Unauthorized
from realtime.db import db_call
from realtime.presence import Snapshot as PresenceState
from realtime.users import UserLike

TOPIC_KEY = re.compile(r"^[a-z][a-z0-9_]*(?::[A-Za-z0-9_-]{1,64}){0,2}$")
PREFIX = re.compile(r"[a-z][a-z0-9_]*")
TOPIC_PART = re.compile(r"[A-Za-z0-9_-]{1,64}")


def topic_name(prefix: str, *parts: object) -> str:
    """The one way to build a topic name or key: `topic_name("chat", 12)` is `chat:12`."""
    if not PREFIX.fullmatch(prefix):
        raise ValueError(f"Invalid topic prefix {prefix!r}.")
    texts = [str(part) for part in parts]
    if len(texts) > 2 or not all(TOPIC_PART.fullmatch(text) for text in texts):
        raise ValueError(f"Invalid topic parts {parts!r}.")
    return ":".join([prefix, *texts])


def require_user(user: UserLike | None) -> UserLike:
    """The signed-in user, or Unauthorized for an anonymous connection."""
    if user is None:
        raise Unauthorized("Sign in to use this topic.")
    return user


class Throttles:
    """Per-connection "at most once per N seconds" gates, e.g. typing (one per connection)."""

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last: dict[str, float] = {}

    def allow(self, name: str, seconds: float) -> bool:
        now = time.monotonic()
        if now - self._last.get(name, -math.inf) < seconds:
            return False
        self._last[name] = now
        return True


@dataclass(slots=True)
class JoinContext:
    """What a handler knows when a connection asks to join."""

    key: str
    name: str
    argument: str | None
    user: UserLike | None
    params: dict[str, Any]
    conn_id: str
    # The client's IP address as the server saw it (behind a proxy: what the server's
    # proxy-headers setting trusts), for per-address limits; "" when unknown.
    client_address: str = ""
    # A replayable topic's stream head, read just before `join` is called (None otherwise).
    # Every change of what the topic shows appends to its stream in the transaction that
    # makes it, so state read after this head includes every event up to it, and a copy of
    # that state kept while the head stays the same is still current, in every process.
    head: int | None = None

    def require_user(self) -> UserLike:
        return require_user(self.user)


@dataclass(slots=True)
class Joined:
    """A handler's answer to a join.

    `reply` becomes the join reply payload (the core adds `missed`/`reset`/`seq` and
    the presence part). `state` is cached on the connection for later sends (e.g.
    the membership), so a send need not re-read it. `presence_member` and
    `presence_info` say how this connection shows in the topic's presence (by
    default the signed-in user keyed `u:<id>` and shown as U, an anonymous
    connection keyed `a:<conn>`); `presence_group` puts it in a group the room
    summary counts (e.g. "owner", "viewer").
    """

    reply: dict[str, Any]
    state: Any = None
    presence_member: str | None = None
    presence_info: dict[str, Any] | None = None
    presence_group: str | None = None


@dataclass(slots=True)
class SendContext:
    """What a handler knows about one `send`: the topic, the sender and the state cached at join."""

    key: str
    name: str
    event: str
    payload: dict[str, Any]
    user: UserLike | None
    state: Any
    conn_id: str
    throttles: Throttles = field(default_factory=Throttles)
    client_address: str = ""

    def require_user(self) -> UserLike:
        return require_user(self.user)

    def throttle(self, name: str, seconds: float) -> bool:
        """True at most once per `seconds` for `name` on this connection (typing and the like)."""
        return self.throttles.allow(name, seconds)


@dataclass(frozen=True, slots=True)
class Event:
    """One `send` event of a topic.

    `handle(ctx, data)` gets the payload as validated by `validator` (a DRF serializer
    class; payload types are strict, as JSON gives them) and returns the reply payload.
    `plain`, if given, is asked first: it returns the validated data of a payload the
    validator would surely accept as it is, else None (then the validator runs, so bad
    input gets its errors). For the hottest events, where building a serializer counts.
    It runs in the database thread and may call services, unless `inline` is set: then
    it is a coroutine awaited on the event loop, with no trip to the database thread of
    its own. It must not touch the ORM itself; it may await `db_call` (chat's
    `message.create` waits there for its group commit) or do without the database
    (typing).
    """

    handle: Callable[[SendContext, dict[str, Any]], Any]
    validator: type[serializers.Serializer] | None = None
    inline: bool = False
    plain: Callable[[dict[str, Any]], dict[str, Any] | None] | None = None


def validate(event: Event, payload: dict[str, Any]) -> dict[str, Any]:
    """The payload as the event's validator's `validated_data`, or Invalid naming each bad field."""
    validator = event.validator
    if validator is None:
        return payload
    # Chat's message.create: building a serializer and running its fields cost 7 % of a
    # chat server's time, for payloads that are nearly always two plain strings.
    if event.plain is not None and isinstance(payload, dict):
        data = event.plain(payload)
        if data is not None:
            return data
    serializer = validator(data=payload, context={"typed": True})
    if not serializer.is_valid():
        raise Invalid(fields={name: _first_problem(problem) for name, problem in serializer.errors.items()})
    return dict(serializer.validated_data)


def _first_problem(problem: Any) -> str:
    while isinstance(problem, list | dict) and problem:
        problem = problem[0] if isinstance(problem, list) else next(iter(problem.values()))
    return str(problem)


class TopicHandler(ABC):
    """Base class of a topic handler; override `join`, and list `events` if it accepts sends.

    Class attributes:
    - prefix: the part of the topic name before the first ':'.
    - events: send event name -> Event; any other event is `bad_request`.
    - replayable: its events carry `seq` and can be resumed with `params.since`.
    - presence: the core tracks who is connected; join replies carry `presence`
      and `presence_count`, and changes go out as coalesced `presence.diff` events,
      unless `room_event` is set: then each coalesced change publishes
      `room_event` with `room_summary(key, state)` instead, and the join reply
      carries it under `room`.
    - presence_pinned: members listed first in presence lists when present (e.g. "owner").
    - presence_window_ms: this topic's coalescing window for presence changes, instead of
      REALTIME_PRESENCE_WINDOW_MS (a big room's summary is a big frame for everyone).
    """

    prefix: str = ""
    events: Mapping[str, Event] = {}
    replayable: bool = False
    presence: bool = False
    room_event: str | None = None
    presence_pinned: tuple[str, ...] = ()
    presence_window_ms: int | None = None

    def topic_key(self, name: str, user: UserLike | None) -> str:
        """The canonical key of the topic a client named; streams and fan-out use it.

        Override when one client-visible name maps to a per-user topic (`inbox`).
        Raise BadRequest for a malformed name.
        """
        return name

    def client_topic(self, key: str) -> str:
        """The topic name clients see in event frames for a key (inverse of topic_key)."""
        return key

    @abstractmethod
    def join(self, ctx: JoinContext) -> Joined:
        """Authorises the join and builds the reply (runs in a worker thread, may use the ORM).

        Raise NotFound, Unauthorized, Forbidden or Invalid, in that order of checks.
        """

    def room_summary(self, key: str, state: PresenceState) -> dict[str, Any]:
        """The room summary published as `room_event` (only for handlers that set it)."""
        return {"count": state.count, "online": state.members}

    def presence_reply(self, key: str, state: PresenceState) -> dict[str, Any]:
        """The presence part of a join reply."""
        if self.room_event is not None:
            return {"room": self.room_summary(key, state)}
        return {"presence": state.members, "presence_count": state.count}

    def event_for(self, name: str) -> Event:
        event = self.events.get(name)
        if event is None:
            raise BadRequest(f"Unknown event {name!r} for topic prefix {self.prefix!r}.")
        return event

    async def send(self, ctx: SendContext) -> Any:
        """Validates and handles one `send` (the event is known: see `event_for`)."""
        event = self.event_for(ctx.event)
        if event.inline:
            coroutine: Awaitable[Any] = event.handle(ctx, validate(event, ctx.payload))
            return await coroutine
        return await db_call(_handle_in_thread)(event, ctx)


def _handle_in_thread(event: Event, ctx: SendContext) -> Any:
    return event.handle(ctx, validate(event, ctx.payload))


_handlers: dict[str, TopicHandler] = {}


def register(handler: TopicHandler) -> None:
    """Plugs a topic handler into the core (from the app's AppConfig.ready()); idempotent per class."""
    if not PREFIX.fullmatch(handler.prefix):
        raise ValueError(f"Invalid topic prefix {handler.prefix!r}.")
    existing = _handlers.get(handler.prefix)
    if existing is not None and type(existing) is not type(handler):
        raise ValueError(f"Topic prefix {handler.prefix!r} is already registered by {type(existing).__name__}.")
    _handlers[handler.prefix] = handler


def unregister(prefix: str) -> None:
    _handlers.pop(prefix, None)


def handler_for(topic: str) -> TopicHandler | None:
    return _handlers.get(topic.partition(":")[0])


def resolve(name: str, user: UserLike | None) -> tuple[TopicHandler, str]:
    """The handler and canonical key for a client-supplied topic name, or BadRequest."""
    handler = handler_for(name)
    if handler is None:
        raise BadRequest(f"Unknown topic {name[:64]!r}.")
    key = handler.topic_key(name, user)
    if not TOPIC_KEY.match(key):
        raise BadRequest(f"Malformed topic {name[:64]!r}.")
    return handler, key


def client_topic(key: str) -> str:
    handler = handler_for(key)
    return handler.client_topic(key) if handler else key
