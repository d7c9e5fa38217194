"""The topic registry: feature apps plug their topics into the realtime core here.

An app subclasses TopicHandler and calls `register(MyHandler())` from its
AppConfig.ready(). The core never imports a feature app; it only looks handlers up
by the prefix of a topic name (`chat` for `chat:12`).
"""

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from config.errors import BadRequest, Unauthorized
from realtime.db import db_call

if TYPE_CHECKING:
    from accounts.models import User

TOPIC_KEY = re.compile(r"^[a-z][a-z0-9_]*(?::[A-Za-z0-9_-]{1,64}){0,2}$")


@dataclass(slots=True)
class JoinContext:
    """What a handler knows when a connection asks to join."""

    key: str
    name: str
    argument: str | None
    user: "User | None"
    params: dict[str, Any]
    conn_id: str


@dataclass(slots=True)
class Joined:
    """A handler's answer to a join.

    `reply` becomes the join reply payload (the core adds `missed`/`reset` and
    `presence`/`presence_count`). `state` is cached on the connection for later
    sends (e.g. the membership), so a send need not re-read it. `presence_member` and
    `presence_info` say how this connection shows in the topic's presence; by
    default the signed-in user, keyed by id, shown as U.
    """

    reply: dict[str, Any]
    state: Any = None
    presence_member: str | None = None
    presence_info: dict[str, Any] | None = None


@dataclass(slots=True)
class SendContext:
    key: str
    name: str
    event: str
    payload: Any
    user: "User | None"
    state: Any
    conn_id: str
    # The realtime.consumer.Connection: `allow_every(name, seconds)` throttles per connection.
    conn: Any = None


class TopicHandler(ABC):
    """Base class of a topic handler; override `join` and, if it accepts sends, `handle_send`.

    Class attributes:
    - prefix: the part of the topic name before the first ':'.
    - events: the `send` events it accepts; any other is `bad_request`.
    - replayable: its events carry `seq` and can be resumed with `params.since`.
    - presence: the core tracks who is connected and adds it to join replies.
    - inline_events: events handled by the async `handle_inline` on the event loop
      (no database), e.g. typing.
    """

    prefix: str = ""
    events: frozenset[str] = frozenset()
    inline_events: frozenset[str] = frozenset()
    replayable: bool = False
    presence: bool = False

    def topic_key(self, name: str, user: "User | None") -> str:
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

    def handle_send(self, ctx: SendContext) -> dict[str, Any] | None:
        """Handles one `send` event (worker thread); returns the reply payload."""
        raise BadRequest(f"Unknown event {ctx.event!r}.")

    async def handle_inline(self, ctx: SendContext) -> dict[str, Any] | None:
        """Handles an inline event on the event loop, with no database access."""
        raise BadRequest(f"Unknown event {ctx.event!r}.")

    async def send(self, ctx: SendContext) -> dict[str, Any] | None:
        if ctx.event in self.inline_events:
            return await self.handle_inline(ctx)
        return await db_call(self.handle_send)(ctx)


def require_user(user: "User | None") -> "User":
    """The signed-in user, or Unauthorized for an anonymous connection."""
    if user is None:
        raise Unauthorized("Sign in to use this topic.")
    return user


_handlers: dict[str, TopicHandler] = {}


def register(handler: TopicHandler) -> None:
    if not re.fullmatch(r"[a-z][a-z0-9_]*", handler.prefix):
        raise ValueError(f"Invalid topic prefix {handler.prefix!r}.")
    existing = _handlers.get(handler.prefix)
    if existing is not None and type(existing) is not type(handler):
        raise ValueError(f"Topic prefix {handler.prefix!r} is already registered by {type(existing).__name__}.")
    _handlers[handler.prefix] = handler


def unregister(prefix: str) -> None:
    _handlers.pop(prefix, None)


def handler_for(topic: str) -> TopicHandler | None:
    return _handlers.get(topic.partition(":")[0])


def resolve(name: str, user: "User | None") -> tuple[TopicHandler, str]:
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
