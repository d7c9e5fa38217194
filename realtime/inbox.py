"""The per-user `inbox` topic (docs/protocol.md 4.2), which belongs to no single app.

Each app that has something for a user's inbox registers an `InboxPart`: its send
events, its piece of the join reply and its counters. The core merges the counters of
every part into the one `unread` object, so a change in any part publishes the whole
object, and a new part (notifications) is added without touching another (chat).
"""

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from django.db import transaction

from config.errors import BadRequest
from realtime.hub import online_user_ids
from realtime.publish import publish_many
from realtime.registry import Event, JoinContext, Joined, SendContext, TopicHandler, require_user, topic_name
from realtime.users import UserLike

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
    """Sends the whole `unread` object to the inbox of each of these users who is online now.

    Offline users get theirs with their next inbox join, so they cost nothing here; the
    online ones' go out together (one hop to the channel layer, not one per user).
    """
    counts = unread_counts(user_ids=online_user_ids(user_ids))
    publish_many([(inbox_topic(user_id), "unread", counters) for user_id, counters in counts.items()], replayable=False)


def unread_changed(*, user_ids: Iterable[int]) -> None:
    """A part's counters of these users changed: publish their `unread` after commit,
    so the counters are read from what was committed."""
    ids = set(user_ids)
    if ids:
        transaction.on_commit(lambda: unread_publish(user_ids=ids), robust=True)


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
