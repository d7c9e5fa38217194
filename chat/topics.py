"""Chat's realtime surface: the `chat:<channel_id>` topic and chat's part of the inbox
(docs/protocol.md 4.1, 4.2).

Thin: each send event is a row of a table, its payload validated by the serializer
the matching REST endpoint uses and handled by one service; the services check
existence, permission and content, in that order. Typing runs on the event loop from
the state cached at join, without the database; message sends are group-committed.
"""

import asyncio
import weakref
from dataclasses import dataclass
from typing import Any

from accounts.models import User
from accounts.selectors import friend_ids_of, user_public
from chat import selectors, services
from chat.api.serializers import (
    ChannelReadSerializer,
    DirectMessageMarkReadSerializer,
    DirectMessageSendSerializer,
    DirectMessageTypingSerializer,
    MessageChangeSerializer,
    MessageCreateSerializer,
    MessageRefSerializer,
    TypingSerializer,
)
from chat.history import recent_messages
from chat.models import Membership, Message
from chat.payloads import channel_data, dm_data, message_data
from config.errors import Forbidden, NotFound
from realtime.api import (
    Event,
    InboxPart,
    JoinContext,
    Joined,
    SendContext,
    TopicHandler,
    db_call,
    inbox_topic,
    online_user_ids,
    publish,
)

TYPING_EVERY = 1.0  # seconds: typing is forwarded at most this often per connection


def _user(ctx: SendContext | JoinContext) -> User:
    """The signed-in user (the core's user is this project's User model)."""
    user = ctx.require_user()
    assert isinstance(user, User)
    return user


@dataclass(frozen=True, slots=True)
class ChatState:
    """Cached on the connection at join: who this is and whether they are a member."""

    channel_id: int
    user: dict[str, Any]
    is_member: bool


class GroupCommit:
    """Message sends that arrive while the database thread writes a batch go together in the
    next one (`message_create_many`: one transaction, one trip to the thread). Each sender
    is answered after the commit of its own batch. When sends come one at a time, each is
    a batch of one and waits for nothing.
    """

    # Sends per transaction: bounds how long one batch holds the database thread.
    MAX_BATCH = 100

    def __init__(self) -> None:
        self.waiting: list[tuple[services.MessageSend, asyncio.Future[Any]]] = []
        self.writer: asyncio.Task[None] | None = None

    async def submit(self, send: services.MessageSend) -> tuple[Message, bool]:
        future: asyncio.Future[tuple[Message, bool]] = asyncio.get_running_loop().create_future()
        self.waiting.append((send, future))
        if self.writer is None:
            self.writer = asyncio.get_running_loop().create_task(self._write())
        return await future

    async def _write(self) -> None:
        try:
            while self.waiting:
                batch, self.waiting = self.waiting[: self.MAX_BATCH], self.waiting[self.MAX_BATCH :]
                sends = [send for send, _ in batch]
                try:
                    results = await db_call(services.message_create_many)(sends=sends)
                except Exception as error:  # the thread itself failed: every sender is told
                    results = [error] * len(batch)
                for (_, future), result in zip(batch, results, strict=True):
                    if future.done():  # the sender went away; its message stands (client_id)
                        continue
                    if isinstance(result, Exception):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:
            self.writer = None


# One per event loop (a server process has one; tests start several).
_group_commits: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, GroupCommit] = weakref.WeakKeyDictionary()


async def _message_create(ctx: SendContext, data: dict[str, Any]) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    group_commit = _group_commits.get(loop) or _group_commits.setdefault(loop, GroupCommit())
    send = services.MessageSend(
        user=_user(ctx), channel_id=ctx.state.channel_id, body=data["body"], client_id=data.get("client_id", "")
    )
    message, _ = await group_commit.submit(send)
    return {"message": message_data(message)}


def _message_update(ctx: SendContext, data: dict[str, Any]) -> dict[str, Any]:
    message = services.message_update(
        user=_user(ctx), message_id=data["id"], body=data["body"], channel_id=ctx.state.channel_id
    )
    return {"message": message_data(message)}


def _message_delete(ctx: SendContext, data: dict[str, Any]) -> dict[str, Any]:
    message = services.message_delete(user=_user(ctx), message_id=data["id"], channel_id=ctx.state.channel_id)
    return {"message": message_data(message)}


def _read(ctx: SendContext, data: dict[str, Any]) -> dict[str, Any]:
    membership = services.channel_mark_read(user=_user(ctx), channel_id=ctx.state.channel_id, seq=data["seq"])
    return {"last_read_seq": membership.last_read_seq}


async def _typing(ctx: SendContext, data: dict[str, Any]) -> dict[str, Any]:
    """To the channel's other connections, at most once a second per connection."""
    state: ChatState = ctx.state
    if not state.is_member:
        raise Forbidden("Join the channel first.")
    if ctx.throttle(f"typing:{ctx.key}", TYPING_EVERY):
        publish(ctx.key, "typing", {"user": state.user, "typing": data["typing"]}, exclude=ctx.conn_id)
    return {}


class ChatHandler(TopicHandler):
    """`chat:<channel_id>`: members of the channel; joining a public channel makes one a member.

    An archived public channel can be joined without becoming a member, to read its
    history. The reply carries the channel, its last 50 messages and the member's read mark.
    """

    prefix = "chat"
    replayable = True
    presence = True
    events = {
        "message.create": Event(
            _message_create, MessageCreateSerializer, inline=True, plain=MessageCreateSerializer.plainly_valid_data
        ),
        "message.update": Event(_message_update, MessageChangeSerializer),
        "message.delete": Event(_message_delete, MessageRefSerializer),
        "read": Event(_read, ChannelReadSerializer),
        "typing": Event(_typing, TypingSerializer, inline=True),
    }

    def join(self, ctx: JoinContext) -> Joined:
        argument = ctx.argument or ""
        if not (argument.isascii() and argument.isdigit() and len(argument) <= 18):
            raise NotFound("No such channel.")
        if ctx.user is None:
            selectors.channel_get(channel_id=int(argument))  # not_found comes before unauthorized
        user = _user(ctx)
        membership: Membership | None
        try:
            membership, _ = services.channel_join(user=user, channel_id=int(argument))
            channel = membership.channel
        except Forbidden:
            channel = selectors.channel_get(channel_id=int(argument))
            if channel.is_private or not channel.is_archived:
                raise
            membership = None  # reading an archived public channel
        reply = {
            "channel": channel_data(channel),
            "messages": recent_messages.get(channel_id=channel.pk, head=ctx.head),
            "last_read_seq": membership.last_read_seq if membership else 0,
        }
        state = ChatState(channel_id=channel.pk, user=user_public(user), is_member=membership is not None)
        return Joined(reply=reply, state=state)


# -- chat's part of the inbox ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InboxState:
    """Cached at join for typing, which does not touch the database (sends re-check friendship)."""

    user: dict[str, Any]
    friend_ids: frozenset[int]


def _dm_send(ctx: SendContext, data: dict[str, Any]) -> dict[str, Any]:
    message, _ = services.dm_send(
        sender=_user(ctx), recipient_id=data["to"], body=data["body"], client_id=data.get("client_id", "")
    )
    return {"message": dm_data(message)}


def _dm_update(ctx: SendContext, data: dict[str, Any]) -> dict[str, Any]:
    message = services.dm_update(user=_user(ctx), message_id=data["id"], body=data["body"])
    return {"message": dm_data(message)}


def _dm_delete(ctx: SendContext, data: dict[str, Any]) -> dict[str, Any]:
    message = services.dm_delete(user=_user(ctx), message_id=data["id"])
    return {"message": dm_data(message)}


def _dm_read(ctx: SendContext, data: dict[str, Any]) -> dict[str, Any]:
    marked, up_to = services.dm_mark_read(user=_user(ctx), other_id=data["with"], up_to=data["up_to"])
    return {"up_to": up_to, "marked": marked}


async def _dm_typing(ctx: SendContext, data: dict[str, Any]) -> dict[str, Any]:
    """To a friend's inbox, at most once a second per connection and friend."""
    state: InboxState = ctx.state
    if data["to"] not in state.friend_ids:
        raise Forbidden("Direct messages are only between friends (users who follow each other).")
    if ctx.throttle(f"dm.typing:{data['to']}", TYPING_EVERY):
        publish(inbox_topic(data["to"]), "dm.typing", {"from": state.user, "typing": data["typing"]})
    return {}


class ChatInboxPart(InboxPart):
    """Chat's share of the inbox: direct messages, their read marks and typing, the DM and
    channel counters, and friends' presence.

    Its join keys: `friends_online`, the ids of the friends with a connection open now,
    read after this connection subscribed, so a `presence` event that follows the reply
    is never older than the snapshot.
    """

    name = "chat"
    events = {
        "dm.send": Event(_dm_send, DirectMessageSendSerializer),
        "dm.update": Event(_dm_update, MessageChangeSerializer),
        "dm.delete": Event(_dm_delete, MessageRefSerializer),
        "dm.read": Event(_dm_read, DirectMessageMarkReadSerializer),
        "dm.typing": Event(_dm_typing, DirectMessageTypingSerializer, inline=True),
    }

    def join(self, user: Any) -> tuple[dict[str, Any], Any]:
        state = InboxState(user=user_public(user), friend_ids=frozenset(friend_ids_of(user)))
        return {"friends_online": sorted(online_user_ids(state.friend_ids))}, state

    def counters(self, user_ids: list[int]) -> dict[int, dict[str, Any]]:
        return selectors.unread_counts(user_ids=user_ids)
