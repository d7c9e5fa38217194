"""Reads shared by REST, pages and the realtime topics, each scoped to the viewer.

Rows become protocol objects in `chat.payloads`; chat's inbox counters are read here.
"""

import time
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from django.db import connection
from django.db.models import Count, Exists, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.expressions import Col
from django.db.models.functions import Coalesce

from accounts.models import Follow, User
from accounts.selectors import friends_of, user_public
from chat.models import Channel, DirectMessage, Membership, Message
from chat.payloads import dm_data
from config.errors import Invalid, NotFound
from realtime.api import online_user_ids

JOIN_HISTORY = 50


@dataclass(slots=True)
class Page:
    """One page of a history, oldest first; `has_older`/`has_newer` say whether more exist."""

    items: list[Any]
    has_older: bool
    has_newer: bool


# -- channels --------------------------------------------------------------------


def _visible_channels(user: User) -> QuerySet[Channel]:
    is_member = Exists(Membership.objects.filter(channel=OuterRef("pk"), user=user))
    return Channel.objects.filter(Q(is_private=False) | is_member)


def _with_member_count(qs: QuerySet[Channel]) -> QuerySet[Channel]:
    counts = Membership.objects.filter(channel=OuterRef("pk")).order_by().values("channel").annotate(n=Count("pk"))
    return qs.annotate(member_count=Coalesce(Subquery(counts.values("n")), Value(0), output_field=IntegerField()))


def channel_list_for_user(
    *, user: User, joined: bool | None = None, archived: bool | None = None, search: str | None = None
) -> QuerySet[Channel]:
    """Channels the user may see (public ones and private ones they belong to), by name.

    `joined` keeps only channels they are (True) or are not (False) a member of,
    `archived` filters on the archive flag, `search` matches a name or slug prefix.
    Annotated with `member_count`.
    """
    qs = _visible_channels(user)
    if joined is not None:
        is_member = Exists(Membership.objects.filter(channel=OuterRef("pk"), user=user))
        qs = qs.filter(is_member) if joined else qs.exclude(is_member)
    if archived is not None:
        qs = qs.filter(is_archived=archived)
    if search:
        qs = qs.filter(Q(name__istartswith=search) | Q(slug__istartswith=search))
    return _with_member_count(qs).order_by("name", "id")


@cache
def _membership_channel_converters() -> list[tuple[int, Col, list[Any]]]:
    # What the ORM would apply to each column of the row (SQLite gives datetimes as text).
    fields = [*Membership._meta.concrete_fields, *Channel._meta.concrete_fields]
    found = []
    for index, field in enumerate(fields):
        column = field.get_col(field.model._meta.db_table)
        converters = [*connection.ops.get_db_converters(column), *field.get_db_converters(connection)]
        if converters:
            found.append((index, column, converters))
    return found


def membership_get_with_channel(*, user_id: int, channel_id: int) -> Membership | None:
    """The user's membership of the channel, its channel loaded and given `member_count`
    (`channel_member_count`), or None when they are not a member (not scoped: callers are
    services).

    One raw statement: every chat join of a member runs it, and the ORM took longer to
    compile the query than the database to answer it.
    """
    quote = connection.ops.quote_name
    membership_fields = [field.attname for field in Membership._meta.concrete_fields]
    channel_fields = [field.attname for field in Channel._meta.concrete_fields]
    columns = [f"m.{quote(str(field.column))}" for field in Membership._meta.concrete_fields]
    columns += [f"c.{quote(str(field.column))}" for field in Channel._meta.concrete_fields]
    memberships = quote(Membership._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(columns)} "  # noqa: S608 (names only; values are parameters)
            f"FROM {memberships} AS m JOIN {quote(Channel._meta.db_table)} AS c ON c.id = m.channel_id "
            "WHERE m.channel_id = %s AND m.user_id = %s",
            [channel_id, user_id],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    values = list(row)
    for index, column, converters in _membership_channel_converters():
        for converter in converters:
            values[index] = converter(values[index], column, connection)
    membership = Membership.from_db(connection.alias, membership_fields, values[: len(membership_fields)])
    channel = Channel.from_db(connection.alias, channel_fields, values[len(membership_fields) :])
    channel.member_count = channel_member_count(channel_id=channel_id)  # type: ignore[attr-defined]  # as annotated
    membership.channel = channel
    return membership


# How old a member count a join reply may carry. Nothing keeps a client's count current
# after its join (no event carries it), so a count a second old tells it no less; counting
# a 5,000-member channel for each join of a reconnect storm was most of a join's database
# time. This process's own membership changes drop its count at once (`channel_members_changed`).
MEMBER_COUNT_SECONDS = 1.0
_member_counts: dict[int, tuple[float, int]] = {}


def channel_member_count(*, channel_id: int) -> int:
    """The channel's number of members, counted at most MEMBER_COUNT_SECONDS ago (raw SQL)."""
    now = time.monotonic()
    kept = _member_counts.get(channel_id)
    if kept is not None and now - kept[0] < MEMBER_COUNT_SECONDS:
        return kept[1]
    table = connection.ops.quote_name(Membership._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {table} WHERE channel_id = %s", [channel_id])  # noqa: S608 (a table name)
        (count,) = cursor.fetchone()
    if len(_member_counts) >= 10_000:
        _member_counts.clear()  # a bound, not a policy: counts are cheap to take again
    _member_counts[channel_id] = (now, int(count))
    return int(count)


def channel_members_changed(*, channel_id: int) -> None:
    """A membership of the channel was added or removed in this process: count it again."""
    _member_counts.pop(channel_id, None)


def channel_get(*, channel_id: int) -> Channel:
    """Any channel by id, for authorisation that must tell `not_found` from `forbidden`; NotFound otherwise."""
    channel = Channel.objects.filter(pk=channel_id).first()
    if channel is None:
        raise NotFound("No such channel.")
    return channel


def channel_get_for_user(*, user: User, channel_id: int) -> Channel:
    """A channel the user may see, with `member_count`; NotFound for missing or someone else's private one."""
    channel = _with_member_count(_visible_channels(user).filter(pk=channel_id)).first()
    if channel is None:
        raise NotFound("No such channel.")
    return channel


def channel_member_ids(*, channel_id: int) -> list[int]:
    """The ids of a channel's members (for their counters; not scoped: callers are services).

    Raw SQL: it runs after nearly every message, and the ORM took ten times longer to
    compile it than the database to answer it.
    """
    table = connection.ops.quote_name(Membership._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT user_id FROM {table} WHERE channel_id = %s", [channel_id])  # noqa: S608 (a table name)
        return [int(user_id) for (user_id,) in cursor.fetchall()]


def channel_member_list(*, user: User, channel_id: int) -> QuerySet[Membership]:
    """Members of a channel the user may see, oldest first; NotFound otherwise."""
    channel = channel_get_for_user(user=user, channel_id=channel_id)
    return Membership.objects.filter(channel=channel).select_related("user").order_by("joined_at", "id")


# -- channel messages ------------------------------------------------------------


def message_list_latest(*, channel_id: int, limit: int = JOIN_HISTORY) -> list[Message]:
    """The last `limit` messages of a channel (deleted ones included as such), oldest first."""
    rows = Message.objects.filter(channel_id=channel_id).select_related("author").order_by("-seq")[:limit]
    return list(rows)[::-1]


def message_page(
    *, user: User, channel_id: int, before: int | None = None, after: int | None = None, limit: int = JOIN_HISTORY
) -> Page:
    """A page of a visible channel's messages by seq, oldest first.

    No cursor: the newest page. `before`: the newest `limit` messages below that seq.
    `after`: the oldest `limit` above it (both: within the range). An empty page has
    neither older nor newer. NotFound for a channel the user may not see.
    """
    channel = channel_get_for_user(user=user, channel_id=channel_id)
    qs = Message.objects.filter(channel=channel)
    window = qs.select_related("author")
    if before is not None:
        window = window.filter(seq__lt=before)
    if after is not None:
        window = window.filter(seq__gt=after)
        rows = list(window.order_by("seq")[:limit])
    else:
        rows = list(window.order_by("-seq")[:limit])[::-1]
    if not rows:
        return Page(items=[], has_older=False, has_newer=False)
    return Page(
        items=rows,
        has_older=qs.filter(seq__lt=rows[0].seq).exists(),
        has_newer=qs.filter(seq__gt=rows[-1].seq).exists(),
    )


def message_get_for_user(*, user: User, message_id: int) -> Message:
    """A message in a channel the user may see; NotFound otherwise."""
    message = (
        Message.objects.filter(pk=message_id, channel__in=_visible_channels(user))
        .select_related("author", "channel")
        .first()
    )
    if message is None:
        raise NotFound("No such message.")
    return message


# -- direct messages -------------------------------------------------------------


def _between(user_id: int, other_id: int) -> Q:
    return Q(sender_id=user_id, recipient_id=other_id) | Q(sender_id=other_id, recipient_id=user_id)


def _dm_counts_as_unread() -> Q:
    """Unread DMs: not read, not deleted, and from a current friend of the recipient
    (also written in raw SQL in `_dm_unread_rows`: change both)."""
    return Q(
        Exists(Follow.objects.filter(follower_id=OuterRef("sender_id"), followee_id=OuterRef("recipient_id"))),
        Exists(Follow.objects.filter(follower_id=OuterRef("recipient_id"), followee_id=OuterRef("sender_id"))),
        read_at__isnull=True,
        deleted_at__isnull=True,
        sender__is_active=True,
    )


def dm_partner_get(*, user: User, user_id: int) -> User:
    """The other party of a conversation: any other user; NotFound for oneself or no such user."""
    other = User.objects.filter(pk=user_id).exclude(pk=user.pk).first()
    if other is None:
        raise NotFound("No such user.")
    return other


def dm_page(
    *, user: User, other_id: int, before: int | None = None, after: int | None = None, limit: int = JOIN_HISTORY
) -> Page:
    """A page of the conversation between the user and `other_id`, oldest first.

    Cursors are message ids of that conversation, ordered by time (ties by id).
    NotFound for an unknown user; Invalid for a cursor outside the conversation.
    """
    other = dm_partner_get(user=user, user_id=other_id)
    qs = DirectMessage.objects.filter(_between(user.pk, other.pk))

    def position(name: str, message_id: int) -> tuple[datetime, int]:
        created_at = qs.filter(pk=message_id).values_list("created_at", flat=True).first()
        if created_at is None:
            raise Invalid(fields={name: "No such message in this conversation."})
        return created_at, message_id

    def older_than(at: tuple[datetime, int]) -> Q:
        return Q(created_at__lt=at[0]) | Q(created_at=at[0], pk__lt=at[1])

    def newer_than(at: tuple[datetime, int]) -> Q:
        return Q(created_at__gt=at[0]) | Q(created_at=at[0], pk__gt=at[1])

    window = qs.select_related("sender", "recipient")
    before_at = position("before", before) if before is not None else None
    after_at = position("after", after) if after is not None else None
    if before_at is not None:
        window = window.filter(older_than(before_at))
    if after_at is not None:
        window = window.filter(newer_than(after_at))
        rows = list(window.order_by("created_at", "pk")[:limit])
    else:
        rows = list(window.order_by("-created_at", "-pk")[:limit])[::-1]
    if not rows:
        return Page(items=[], has_older=False, has_newer=False)
    return Page(
        items=rows,
        has_older=qs.filter(older_than((rows[0].created_at, rows[0].pk))).exists(),
        has_newer=qs.filter(newer_than((rows[-1].created_at, rows[-1].pk))).exists(),
    )


def conversation_list(*, user: User) -> QuerySet[User]:
    """The user's friends with at least one message between them, most recent conversation first.

    Annotated with `last_message_id`, `last_message_at` and `unread_count`; pass a page
    of them to `conversation_entries` for the full entries.
    """
    latest = DirectMessage.objects.filter(
        Q(sender=user, recipient=OuterRef("pk")) | Q(sender=OuterRef("pk"), recipient=user)
    ).order_by("-created_at", "-pk")
    unread = (
        DirectMessage.objects.filter(_dm_counts_as_unread(), sender=OuterRef("pk"), recipient=user)
        .order_by()
        .values("sender")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return (
        friends_of(user)
        .annotate(
            last_message_id=Subquery(latest.values("pk")[:1]),
            last_message_at=Subquery(latest.values("created_at")[:1]),
            unread_count=Coalesce(Subquery(unread), Value(0), output_field=IntegerField()),
        )
        .filter(last_message_id__isnull=False)
        .order_by("-last_message_at", "-last_message_id")
    )


def conversation_entries(*, friends: list[User]) -> list[dict[str, Any]]:
    """`{"user": U, "last_message": D, "unread_count", "is_online"}` for a page of `conversation_list`."""
    messages = DirectMessage.objects.select_related("sender", "recipient").in_bulk(
        [friend.last_message_id for friend in friends]  # type: ignore[attr-defined]  # conversation_list annotates it
    )
    online = online_user_ids(friend.pk for friend in friends)
    entries = []
    for friend in friends:
        last = messages.get(friend.last_message_id)  # type: ignore[attr-defined]  # annotated, as above
        entries.append(
            {
                "user": user_public(friend),
                "last_message": dm_data(last) if last is not None else None,
                "unread_count": friend.unread_count,  # type: ignore[attr-defined]  # annotated, as above
                "is_online": friend.pk in online,
            }
        )
    return entries


# -- unread counters -------------------------------------------------------------


def unread_counts(*, user_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Chat's inbox counters of each user (the core merges them into `unread`), in two
    queries per 500 users.

    `{"dms": unread DMs from friends, "dms_by_user": {"<friend id>": n}, "channels":
    {"<id>": n}}`: `dms_by_user` lists only the friends with unread messages
    (its values add up to `dms`), `channels` every channel the user belongs to. A channel
    message is unread when its seq is above the member's read mark, someone else wrote
    it and it is not deleted.
    """
    counts: dict[int, dict[str, Any]] = {user_id: {"dms": 0, "dms_by_user": {}, "channels": {}} for user_id in user_ids}
    if not counts:
        return counts
    ids = list(counts)
    for start in range(0, len(ids), UNREAD_CHUNK):
        chunk = ids[start : start + UNREAD_CHUNK]
        for user_id, channel_id, unread in _channel_unread_rows(chunk):
            counts[user_id]["channels"][str(channel_id)] = unread
        for user_id, sender_id, unread in _dm_unread_rows(chunk):
            counts[user_id]["dms"] += unread
            counts[user_id]["dms_by_user"][str(sender_id)] = unread
    return counts


def _dm_unread_rows(user_ids: list[int]) -> list[tuple[int, int, int]]:
    """(recipient id, sender id, unread) for these recipients: `_dm_counts_as_unread` in raw
    SQL (the same rule; the ORM took about 2 ms to compile it, the database 0.1 ms to run it)."""
    quote = connection.ops.quote_name
    dm, user, follow = (quote(model._meta.db_table) for model in (DirectMessage, User, Follow))
    sql = (
        "SELECT d.recipient_id, d.sender_id, COUNT(*) "  # noqa: S608 (table names only; values are parameters)
        f"FROM {dm} AS d JOIN {user} AS s ON s.id = d.sender_id "
        f"WHERE d.recipient_id IN ({', '.join(['%s'] * len(user_ids))}) "
        "AND d.read_at IS NULL AND d.deleted_at IS NULL AND s.is_active = %s "
        f"AND EXISTS (SELECT 1 FROM {follow} AS f "
        "WHERE f.follower_id = d.sender_id AND f.followee_id = d.recipient_id) "
        f"AND EXISTS (SELECT 1 FROM {follow} AS b "
        "WHERE b.follower_id = d.recipient_id AND b.followee_id = d.sender_id) "
        "GROUP BY d.recipient_id, d.sender_id ORDER BY d.recipient_id, d.sender_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*user_ids, True])
        return [(int(recipient), int(sender), int(unread)) for recipient, sender, unread in cursor.fetchall()]


def channel_unread_count(*, membership: Membership) -> int:
    rows = _channel_unread_rows([membership.user_id], channel_id=membership.channel_id)
    return rows[0][2] if rows else 0


# Users per unread query: well under SQLite's and PostgreSQL's parameter limits.
UNREAD_CHUNK = 500


def _channel_unread_rows(user_ids: list[int], *, channel_id: int | None = None) -> list[tuple[int, int, int]]:
    """(user id, channel id, unread) for each membership of these users (of one channel, if given).

    Unread after a read mark = messages numbered after it, minus the deleted ones and the
    member's own after it. Each term is an index lookup or a count of those few rows, so a
    member with thousands unread costs what one with none does (counting the unread rows
    themselves cost 0.2-0.5 s per recount in a channel of 1,000 members). Raw SQL: the
    ORM took longer to compile these subqueries than the database to run them.
    """
    quote = connection.ops.quote_name
    message, membership = quote(Message._meta.db_table), quote(Membership._meta.db_table)
    after_mark = "WHERE {0}.channel_id = m.channel_id AND {0}.seq > m.last_read_seq"
    sql = (
        "SELECT m.user_id, m.channel_id, "  # noqa: S608 (table names only; values are parameters)
        f"COALESCE((SELECT h.number FROM {message} AS h WHERE h.channel_id = m.channel_id "
        "ORDER BY h.seq DESC LIMIT 1), 0) "
        f"- COALESCE((SELECT r.number FROM {message} AS r WHERE r.channel_id = m.channel_id "
        "AND r.seq <= m.last_read_seq ORDER BY r.seq DESC LIMIT 1), 0) "
        f"- (SELECT COUNT(*) FROM {message} AS d {after_mark.format('d')} AND d.deleted_at IS NOT NULL) "
        f"- (SELECT COUNT(*) FROM {message} AS o {after_mark.format('o')} AND o.deleted_at IS NULL "
        "AND o.author_id = m.user_id) "
        f"FROM {membership} AS m WHERE m.user_id IN ({', '.join(['%s'] * len(user_ids))})"
    )
    params: list[int] = list(user_ids)
    if channel_id is not None:
        sql += " AND m.channel_id = %s"
        params.append(channel_id)
    with connection.cursor() as cursor:
        cursor.execute(sql + " ORDER BY m.channel_id", params)
        return [(int(user_id), int(channel), int(unread)) for user_id, channel, unread in cursor.fetchall()]
