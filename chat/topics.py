"""Realtime topics of the chat app: `chat:<channel_id>` and `inbox` (docs/protocol.md 4.1, 4.2).

Thin: each send checks the payload's types and calls one service; the services
check existence, permission and content, in that order. Typing is handled on the
event loop from the state cached at join, without the database.
"""

from dataclasses import dataclass
from typing import Any

from accounts.selectors import friend_ids_of, user_public
from chat import selectors, services
from chat.models import Membership
from config.errors import BadRequest, Forbidden, Invalid, NotFound
from realtime.hub import online_user_ids
from realtime.publish import publish
from realtime.registry import JoinContext, Joined, SendContext, TopicHandler, require_user

TYPING_EVERY = 1.0
MAX_ID = 2**63 - 1


def _int_field(payload: dict[str, Any], name: str) -> int:
    value = payload.get(name)
    # Bounded to what a database id or seq can hold (beyond it PostgreSQL raises).
    if isinstance(value, bool) or not isinstance(value, int) or not -MAX_ID <= value <= MAX_ID:
        raise Invalid(fields={name: "Must be an integer."})
    return value


def _optional_int_field(payload: dict[str, Any], name: str) -> int | None:
    return None if payload.get(name) is None else _int_field(payload, name)


def _str_field(payload: dict[str, Any], name: str) -> str:
    value = payload.get(name)
    if not isinstance(value, str):
        raise Invalid(fields={name: "Must be a string."})
    return value


def _bool_field(payload: dict[str, Any], name: str) -> bool:
    value = payload.get(name)
    if not isinstance(value, bool):
        raise Invalid(fields={name: "Must be true or false."})
    return value


def _allowed(ctx: SendContext, name: str) -> bool:
    return ctx.conn is None or bool(ctx.conn.allow_every(name, TYPING_EVERY))


@dataclass(frozen=True, slots=True)
class ChatState:
    """Cached on the connection at join: who this is and whether they are a member."""

    channel_id: int
    user: dict[str, Any]
    is_member: bool


class ChatHandler(TopicHandler):
    """`chat:<channel_id>`: members of the channel; joining a public channel makes one a member.

    An archived public channel can be joined without becoming a member, to read its
    history. The reply carries the channel, its last 50 messages and the member's read mark.
    """

    prefix = "chat"
    events = frozenset({"message.create", "message.update", "message.delete", "typing", "read"})
    inline_events = frozenset({"typing"})
    replayable = True
    presence = True

    def join(self, ctx: JoinContext) -> Joined:
        argument = ctx.argument or ""
        if not (argument.isascii() and argument.isdigit() and len(argument) <= 18):
            raise NotFound("No such channel.")
        channel = selectors.channel_get(channel_id=int(argument))
        user = require_user(ctx.user)
        membership: Membership | None
        try:
            membership, _ = services.channel_join(user=user, channel_id=channel.pk)
        except Forbidden:
            if channel.is_private or not channel.is_archived:
                raise
            membership = None  # reading an archived public channel
        reply = {
            "channel": selectors.channel_data(channel),
            "messages": [selectors.message_data(m) for m in selectors.message_list_latest(channel_id=channel.pk)],
            "last_read_seq": membership.last_read_seq if membership else 0,
        }
        state = ChatState(channel_id=channel.pk, user=user_public(user), is_member=membership is not None)
        return Joined(reply=reply, state=state)

    def handle_send(self, ctx: SendContext) -> dict[str, Any]:
        state: ChatState = ctx.state
        user = require_user(ctx.user)
        payload = ctx.payload
        if ctx.event == "message.create":
            message, _ = services.message_create(
                user=user,
                channel_id=state.channel_id,
                body=_str_field(payload, "body"),
                client_id=_str_field(payload, "client_id"),
            )
            return {"message": selectors.message_data(message)}
        if ctx.event == "message.update":
            message = services.message_update(
                user=user,
                message_id=_int_field(payload, "id"),
                body=_str_field(payload, "body"),
                channel_id=state.channel_id,
            )
            return {"message": selectors.message_data(message)}
        if ctx.event == "message.delete":
            message = services.message_delete(
                user=user,
                message_id=_int_field(payload, "id"),
                channel_id=state.channel_id,
            )
            return {"message": selectors.message_data(message)}
        if ctx.event == "read":
            membership = services.channel_mark_read(
                user=user, channel_id=state.channel_id, seq=_int_field(payload, "seq")
            )
            return {"last_read_seq": membership.last_read_seq}
        raise BadRequest(f"Unknown event {ctx.event!r}.")

    async def handle_inline(self, ctx: SendContext) -> dict[str, Any]:
        """`typing`: to the channel's other connections, at most once a second per connection."""
        state: ChatState = ctx.state
        if not state.is_member:
            raise Forbidden("Join the channel first.")
        typing = _bool_field(ctx.payload, "typing")
        if _allowed(ctx, f"typing:{ctx.key}"):
            publish(ctx.key, "typing", {"user": state.user, "typing": typing}, exclude=ctx.conn_id)
        return {}


@dataclass(frozen=True, slots=True)
class InboxState:
    """Cached at join for typing, which does not touch the database (sends re-check friendship)."""

    user: dict[str, Any]
    friend_ids: frozenset[int]


class InboxHandler(TopicHandler):
    """`inbox`: the signed-in user's own inbox (key `inbox:<user_id>`): direct messages,
    read marks, unread counters and friends' presence.

    The join reply carries `unread` (the counters) and `friends_online`: the ids of the
    friends with a connection open now, read after this connection subscribed, so a
    `presence` event that follows the reply is never older than the snapshot.
    """

    prefix = "inbox"
    events = frozenset({"dm.send", "dm.update", "dm.delete", "dm.typing", "dm.read"})
    inline_events = frozenset({"dm.typing"})
    replayable = True
    presence = False

    def topic_key(self, name: str, user: Any) -> str:
        if name != "inbox":
            raise BadRequest("The inbox topic is just 'inbox'.")
        return services.inbox_key(require_user(user).pk)

    def client_topic(self, key: str) -> str:
        return "inbox"

    def join(self, ctx: JoinContext) -> Joined:
        user = require_user(ctx.user)
        state = InboxState(user=user_public(user), friend_ids=frozenset(friend_ids_of(user)))
        reply = {
            "unread": selectors.unread_for_user(user=user),
            "friends_online": sorted(online_user_ids(state.friend_ids)),
        }
        return Joined(reply=reply, state=state)

    def handle_send(self, ctx: SendContext) -> dict[str, Any]:
        user = require_user(ctx.user)
        payload = ctx.payload
        if ctx.event == "dm.send":
            message, _ = services.dm_send(
                sender=user,
                recipient_id=_int_field(payload, "to"),
                body=_str_field(payload, "body"),
                client_id=_str_field(payload, "client_id"),
            )
            return {"message": selectors.dm_data(message)}
        if ctx.event == "dm.update":
            message = services.dm_update(
                user=user,
                message_id=_int_field(payload, "id"),
                body=_str_field(payload, "body"),
            )
            return {"message": selectors.dm_data(message)}
        if ctx.event == "dm.delete":
            message = services.dm_delete(user=user, message_id=_int_field(payload, "id"))
            return {"message": selectors.dm_data(message)}
        if ctx.event == "dm.read":
            marked, up_to = services.dm_mark_read(
                user=user,
                other_id=_int_field(payload, "with"),
                up_to=_optional_int_field(payload, "up_to"),
            )
            return {"up_to": up_to, "marked": marked}
        raise BadRequest(f"Unknown event {ctx.event!r}.")

    async def handle_inline(self, ctx: SendContext) -> dict[str, Any]:
        """`dm.typing` to a friend's inbox, at most once a second per connection and friend."""
        state: InboxState = ctx.state
        to = _int_field(ctx.payload, "to")
        if to not in state.friend_ids:
            raise Forbidden("Direct messages are only between friends (users who follow each other).")
        typing = _bool_field(ctx.payload, "typing")
        if _allowed(ctx, f"dm.typing:{to}"):
            publish(services.inbox_key(to), "dm.typing", {"from": state.user, "typing": typing})
        return {}
