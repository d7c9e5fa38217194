"""The per-user `inbox` topic (docs/protocol.md 4.2), which belongs to no single app.

Each app that has something for a user's inbox registers an `InboxPart`: its send
events, its piece of the join reply and its counters. The core merges the counters of
every part into the one `unread` object, so a change in any part publishes the whole
object, and a new part (notifications) is added without touching another (chat).
"""

import asyncio
import contextvars
import logging
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from django.db import transaction

from config.errors import BadRequest
from realtime import protocol, publish
from realtime.db import db_call
from realtime.hub import EVENT_TYPE, USERS_GROUP, Hub, group_name, local_handlers, online_user_ids
from realtime.publish import send_hub_messages
from realtime.registry import Event, JoinContext, Joined, SendContext, TopicHandler, require_user, topic_name
from realtime.users import UserLike

logger = logging.getLogger(__name__)

PREFIX = "inbox"
# The counters protocol section 4.2 promises in every `unread` object; each stays at
# its zero until a part counts it.
PROTOCOL_COUNTERS: dict[str, Any] = {"dms": 0, "notifications": 0, "channels": {}}


def inbox_topic(user_id: int) -> str:
    """The topic key of a user's inbox (clients call it just `inbox`)."""
    return topic_name(PREFIX, user_id)


class InboxPart:
    """One app's share of the inbox; subclass it and `register_inbox_part()` an instance.

    - name: unique, e.g. the app label; it keys the part's cached join state.
    - events: send event -> Event, like a topic handler's; `ctx.state` is this part's
      state from `join`.
    - join(user): this part's keys of the join reply, and the state its sends need.
    - counters(user_ids): this part's keys of the `unread` object for each user.
    """

    name: str = ""
    events: Mapping[str, Event] = {}

    def join(self, user: UserLike) -> tuple[dict[str, Any], Any]:
        return {}, None

    def counters(self, user_ids: list[int]) -> dict[int, dict[str, Any]]:
        return {}


_parts: dict[str, InboxPart] = {}


def register_inbox_part(part: InboxPart) -> None:
    """Adds an app's part to the inbox (from its AppConfig.ready()); idempotent per class."""
    existing = _parts.get(part.name)
    if not part.name or (existing is not None and type(existing) is not type(part)):
        raise ValueError(f"Inbox part name {part.name!r} is empty or taken.")
    for other in _parts.values():
        if other.name != part.name and set(other.events) & set(part.events):
            raise ValueError(f"Inbox part {part.name!r} repeats events of {other.name!r}.")
    _parts[part.name] = part


def unregister_inbox_part(name: str) -> None:
    _parts.pop(name, None)


def unread_counts(*, user_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """The whole `unread` object of each user: every part's counters merged."""
    ids = sorted(set(user_ids))
    result = {user_id: {**PROTOCOL_COUNTERS} for user_id in ids}
    if not ids:
        return result
    for part in _parts.values():
        for user_id, counters in part.counters(ids).items():
            result[user_id].update(counters)
    return result


def unread_for_user(*, user: UserLike) -> dict[str, Any]:
    """The user's `unread` object (the inbox join reply's, and `GET /api/inbox/unread/`)."""
    return unread_counts(user_ids=[user.pk])[user.pk]


def unread_publish(*, user_ids: Iterable[int]) -> None:
    """Sends the whole `unread` object to every inbox connection of each of these users who
    is online now, after the events already published to their inboxes (a user's change:
    a notification, a read mark, a DM).

    The counters are not counted here: one hub message per user goes through their inbox's
    group to the processes that serve an inbox of theirs, and each counts them for its own
    connections (`_LocalRecounts`). Offline users get theirs with their next inbox join.
    """
    ids = online_user_ids(user_ids)
    if publish.recorders:
        _record(ids)
    send_hub_messages(
        [
            (group_name(inbox_topic(user_id)), _recount_message(inbox_topic(user_id), [user_id]))
            for user_id in sorted(ids)
        ]
    )


def unread_publish_many(*, user_ids: Iterable[int]) -> None:
    """`unread_publish` for many users at once (a channel's members after its messages): one
    hub message to every server process, which counts the counters of those users whose
    inbox it serves and sends them to their connections there.

    One channel-layer message whatever the number of users (a publish per member cost
    Redis a command per member, and the online check two more), and no process counts
    for a user it does not serve. Unlike `unread_publish`, nothing orders it after the
    users' own inbox events (it goes through another group), so it is for changes that
    came with no such event.
    """
    ids = sorted(set(user_ids))
    if not ids:
        return
    if publish.recorders:
        _record(online_user_ids(ids))
    send_hub_messages([(USERS_GROUP, _recount_message(None, ids))])


def unread_changed(*, user_ids: Iterable[int]) -> None:
    """A part's counters of these users changed: publish their `unread` after commit,
    so the counters are read from what was committed."""
    ids = set(user_ids)
    if ids:
        transaction.on_commit(lambda: unread_publish(user_ids=ids), robust=True)


def _recount_message(key: str | None, user_ids: list[int]) -> dict[str, Any]:
    return {"type": EVENT_TYPE, "key": key, "frame": None, "local": RECOUNT, "user_ids": user_ids}


def _record(user_ids: set[int]) -> None:
    """For tests' `captured_publishes()`: the `unread` events the users' processes will send."""
    counts = unread_counts(user_ids=user_ids)
    for recorder in publish.recorders:
        recorder.extend((inbox_topic(user_id), "unread", counters, False) for user_id, counters in counts.items())


class _LocalRecounts:
    """A process's recounts of `unread` for the inbox connections it serves.

    Recount messages only name users; the users whose inbox is joined here wait in
    `pending`, and one task at a time counts them all in one trip to the database thread
    (messages that arrive meanwhile join the next round), then hands each user's `unread`
    frame to their local inbox connections. Every recount reads what was committed before
    its message was sent, and one process's recounts run and are delivered one after
    another, so the last `unread` a connection gets holds the counters after every change,
    whichever process made them.
    """

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.pending: set[int] = set()
        self.task: asyncio.Task[None] | None = None

    def add(self, user_ids: Iterable[int]) -> None:
        topics = self.hub.topics
        local = [user_id for user_id in user_ids if inbox_topic(user_id) in topics]
        if not local:
            return
        self.pending.update(local)
        if self.task is None:
            # A fresh context, as for debounced work: db_call refuses a context that marks
            # the database thread's executor as busy.
            self.task = self.hub.loop.create_task(self._run(), context=contextvars.Context())

    async def _run(self) -> None:
        try:
            while self.pending:
                user_ids, self.pending = sorted(self.pending), set()
                try:
                    counts = await db_call(unread_counts)(user_ids=user_ids)
                except Exception:
                    logger.exception("Counting unread of %d users failed", len(user_ids))
                    continue
                for user_id, counters in counts.items():
                    key = inbox_topic(user_id)
                    if key in self.hub.topics:
                        self.hub.fanout(key, protocol.event_frame(PREFIX, "unread", counters), None)
        finally:
            self.task = None


_recounts: "weakref.WeakKeyDictionary[Hub, _LocalRecounts]" = weakref.WeakKeyDictionary()


def _recount_locally(hub: Hub, message: dict[str, Any]) -> None:
    recounts = _recounts.get(hub)
    if recounts is None:
        recounts = _recounts[hub] = _LocalRecounts(hub)
    recounts.add(message["user_ids"])


RECOUNT = "inbox.unread"
local_handlers[RECOUNT] = _recount_locally


class InboxHandler(TopicHandler):
    """`inbox`: the signed-in user's own inbox (key `inbox:<user_id>`).

    The join reply carries `unread` and every part's own keys; sends go to the part
    that lists the event, with that part's state from the join.
    """

    prefix = PREFIX
    replayable = True

    def topic_key(self, name: str, user: UserLike | None) -> str:
        if name != PREFIX:
            raise BadRequest("The inbox topic is just 'inbox'.")
        return inbox_topic(require_user(user).pk)

    def client_topic(self, key: str) -> str:
        return PREFIX

    def join(self, ctx: JoinContext) -> Joined:
        user = ctx.require_user()
        reply: dict[str, Any] = {"unread": unread_for_user(user=user)}
        state: dict[str, Any] = {}
        for part in _parts.values():
            piece, state[part.name] = part.join(user)
            reply.update(piece)
        return Joined(reply=reply, state=state)

    def _part_for(self, name: str) -> InboxPart:
        for part in _parts.values():
            if name in part.events:
                return part
        raise BadRequest(f"Unknown event {name!r} for topic 'inbox'.")

    def event_for(self, name: str) -> Event:
        return self._part_for(name).events[name]

    async def send(self, ctx: SendContext) -> Any:
        part = self._part_for(ctx.event)
        return await super().send(replace(ctx, state=(ctx.state or {}).get(part.name)))
