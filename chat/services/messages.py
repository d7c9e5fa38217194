"""Channel messages: post, edit, delete and restore, each published on `chat:<id>`."""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from accounts.models import User
from accounts.selectors import is_moderator
from chat.models import BODY_MAX_LENGTH, CLIENT_ID_MAX_LENGTH, Channel, Membership, Message, MessageEdit, channel_topic
from chat.payloads import message_data
from chat.services.common import (
    channel_readers_changed,
    check_client_id,
    clean_body,
    existing_send,
    membership_for,
    redact,
)
from config.errors import Conflict, Forbidden, NotFound, ServiceError
from realtime.api import publish, stream_events_deferred

logger = logging.getLogger(__name__)


def _existing_message(user: User, client_id: str, channel_id: int) -> Message | None:
    return existing_send(
        Message,
        sender={"author": user},
        client_id=client_id,
        scope=("channel_id", channel_id),
        conflict="This client_id was already used for a message in another channel.",
        related=("author",),
    )


class _NotPosted(Exception):
    """The fast path stored nothing: a resend, not a member, an archived channel or bad input."""


def message_create(*, user: User, channel_id: int, body: str, client_id: str) -> tuple[Message, bool]:
    """Posts a message to a channel the user is a member of; returns (message, created).

    Idempotent by `client_id`: the author's earlier message with it comes back and
    nothing is created (also when two sends race). The message's `seq` is the seq of
    its replayable `message.created` `{"message": M}` event on `chat:<id>`. Online
    members' inboxes get fresh `unread` counters. Raises NotFound (no such channel, or
    a private one they are not in), Forbidden (not a member, archived channel), Invalid
    (body not 1 to 4000 characters after trimming, bad client_id), Conflict (client_id
    used in another channel).
    """
    for _ in range(2):
        try:
            return _post(user=user, channel_id=channel_id, body=body, client_id=client_id), True
        except _NotPosted:
            pass
        # Why nothing was stored, in the protocol's order; a resend wins over every refusal.
        existing = _existing_message(user, client_id, channel_id)
        if existing is not None:
            return existing, False
        membership = membership_for(user, channel_id, not_member="Join the channel to post in it.")
        if membership.channel.is_archived:
            raise Forbidden("This channel is archived.")
        clean_body(body)
        check_client_id(client_id)
        # Every check passes now: the membership, the archive flag or a racing resend
        # changed in between. Once more, with the checks made again by the insert.
    raise Conflict("The channel changed while posting; send again.")


@dataclass(frozen=True, slots=True)
class MessageSend:
    """The arguments of one `message_create`."""

    user: User
    channel_id: int
    body: str
    client_id: str


def message_create_many(*, sends: Sequence[MessageSend]) -> list[tuple[Message, bool] | Exception]:
    """`message_create` for each send, committed together (group commit): for each, in the
    order given, what `message_create` returned or the exception it raised.

    One transaction instead of one per send; a refused send (a domain error) stores nothing
    and the others still commit. Sends are written in channel order (arrival order within
    a channel), so two processes' batches take the channels' stream rows in the same order
    and cannot deadlock. Nothing is published before the commit. A batch that fails
    otherwise (a database error, a failed commit) is retried one send at a time, which the
    client_id makes safe: a send that did commit is found, not stored twice.
    """
    try:
        # The batch's stream events go in with one insert at the end, not one each.
        with transaction.atomic(), stream_events_deferred():
            done: dict[int, tuple[Message, bool] | Exception] = {}
            for index in sorted(range(len(sends)), key=lambda index: sends[index].channel_id):
                try:
                    done[index] = _create(sends[index])
                except ServiceError as error:
                    done[index] = error
        return [done[index] for index in range(len(sends))]
    except Exception:
        logger.warning("A batch of %d messages failed; retrying each alone", len(sends), exc_info=True)
    results: list[tuple[Message, bool] | Exception] = []
    for send in sends:
        try:
            results.append(_create(send))
        except Exception as error:  # that send's own failure, for its sender alone
            results.append(error)
    return results


def _create(send: MessageSend) -> tuple[Message, bool]:
    return message_create(user=send.user, channel_id=send.channel_id, body=send.body, client_id=send.client_id)


def _post(*, user: User, channel_id: int, body: str, client_id: str) -> Message:
    """Stores and publishes the message in one transaction of three statements (seq, message,
    stream event), or raises _NotPosted having stored nothing.

    The insert itself checks the membership and the archive flag (it selects from them)
    and the idempotency key (ON CONFLICT on the unique (author, client_id) pair), so a
    send costs no query before it. Inside a group commit's transaction it takes no
    savepoint either: an insert that stored nothing gives its seq back instead.
    """
    body = body.strip()
    if not (body and len(body) <= BODY_MAX_LENGTH and 1 <= len(client_id) <= CLIENT_ID_MAX_LENGTH):
        raise _NotPosted
    topic = channel_topic(channel_id)
    message = Message(channel_id=channel_id, author=user, body=body, client_id=client_id, created_at=timezone.now())

    def created(seq: int) -> dict[str, Any] | None:
        message.seq = seq
        message.stream_events = [[topic, seq]]
        inserted = _insert_if_member(message)
        if inserted is None:
            return None
        message.pk, message.number = inserted
        return {"message": message_data(message)}

    # No exception leaves this block on a refusal (it would doom a group commit's transaction).
    with transaction.atomic(savepoint=False):
        posted = publish(topic, "message.created", created, replayable=True) is not None
        if posted:
            channel_readers_changed(channel_id, except_user_id=user.pk)
    if not posted:
        raise _NotPosted
    return message


def _insert_if_member(message: Message) -> tuple[int, int] | None:
    """Inserts the message when its author is a member of its unarchived channel and has
    no message with its client_id yet; (id, number), else None (nothing stored).

    The number follows the channel's last message: the caller holds the channel stream's
    row (PostgreSQL) or the write lock (SQLite), so no other message of the channel is
    being numbered.
    """
    quote = connection.ops.quote_name
    fields = {field.name: field for field in Message._meta.concrete_fields}

    def prep(name: str) -> Any:
        return fields[name].get_db_prep_save(getattr(message, name), connection)

    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(Message._meta.db_table)} "  # noqa: S608 (names only; values are parameters)
            "(body, client_id, created_at, stream_events, seq, channel_id, author_id, number) "
            "SELECT %s, %s, %s, %s, %s, m.channel_id, m.user_id, 1 + COALESCE("
            f"(SELECT last.number FROM {quote(Message._meta.db_table)} AS last "
            "WHERE last.channel_id = m.channel_id ORDER BY last.seq DESC LIMIT 1), 0) "
            f"FROM {quote(Membership._meta.db_table)} AS m JOIN {quote(Channel._meta.db_table)} AS c "
            "ON c.id = m.channel_id "
            "WHERE m.channel_id = %s AND m.user_id = %s AND c.is_archived = %s "
            "ON CONFLICT (author_id, client_id) DO NOTHING RETURNING id, number",
            [
                prep("body"),
                prep("client_id"),
                prep("created_at"),
                prep("stream_events"),
                message.seq,
                message.channel_id,
                message.author_id,
                False,
            ],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    return int(row[0]), int(row[1])


def _message_for_change(user: User, message_id: int, channel_id: int | None) -> tuple[Message, bool]:
    """The message locked for update and whether `user` changes it as a moderator.

    NotFound when it does not exist, is in another channel than `channel_id`, or is
    in a private channel the user is not in (moderators see every channel).
    """
    message = (
        Message.objects.select_for_update(of=("self",))
        .select_related("author", "channel")
        .filter(pk=message_id)
        .first()
    )
    if message is None or (channel_id is not None and message.channel_id != channel_id):
        raise NotFound("No such message.")
    is_member = Membership.objects.filter(channel_id=message.channel_id, user=user).exists()
    if message.author_id == user.pk and is_member:
        return message, False
    moderator = is_moderator(user)
    if not moderator:
        if message.channel.is_private and not is_member:
            raise NotFound("No such message.")
        raise Forbidden("Only its author or a moderator may change this message.")
    return message, True


def message_update(*, user: User, message_id: int, body: str, channel_id: int | None = None) -> Message:
    """Edits a message's body; its author (while a member) or a moderator.

    Keeps the previous body in the edit history (for moderators), sets `edited_at`,
    rewrites the stored events that carried the old text to the new one (so resuming
    clients are not replayed it) and publishes the replayable `message.updated`
    `{"message": M}` (M keeps its creation seq). The same
    body again changes nothing. Raises NotFound, Forbidden (someone else's message,
    archived channel), Conflict (deleted message), Invalid (body).
    """
    with transaction.atomic():
        message, _ = _message_for_change(user, message_id, channel_id)
        if message.channel.is_archived:
            raise Forbidden("This channel is archived.")
        if message.is_deleted:
            raise Conflict("This message was deleted.")
        body = clean_body(body)
        if body == message.body:
            return message
        MessageEdit.objects.create(message=message, body=message.body, edited_by=user)
        message.body, message.edited_at = body, timezone.now()
        redact(message, {"message": message_data(message)})
        _publish_message_updated(message)
    return message


def _publish_message_updated(message: Message) -> None:
    """Saves the message's changed text with the seq of the `message.updated` event that carries it."""
    topic = channel_topic(message.channel_id)

    def updated(seq: int) -> dict[str, Any]:
        message.stream_events.append([topic, seq])
        message.save(update_fields=["body", "edited_at", "deleted_at", "deleted_by", "stream_events"])
        return {"message": message_data(message)}

    publish(topic, "message.updated", updated, replayable=True)


def message_delete(*, user: User, message_id: int, channel_id: int | None = None) -> Message:
    """Soft-deletes a message; its author (while a member) or a moderator.

    The body stays stored for moderators; everyone else sees it as deleted from now
    on, resumes included (stored events that carried its text are redacted). Publishes
    the replayable `message.deleted` `{"message": M}` (empty body) and
    fresh `unread` counters to online members. Deleting a deleted message changes
    nothing. Raises NotFound, Forbidden (someone else's message; an archived channel,
    except for moderators).
    """
    with transaction.atomic():
        message, as_moderator = _message_for_change(user, message_id, channel_id)
        if message.channel.is_archived and not (as_moderator or is_moderator(user)):
            raise Forbidden("This channel is archived.")
        if message.is_deleted:
            return message
        message.deleted_at, message.deleted_by = timezone.now(), user
        message.save(update_fields=["deleted_at", "deleted_by"])
        redact(message, {"message": message_data(message)})
        publish(message.channel.topic_key, "message.deleted", {"message": message_data(message)}, replayable=True)
        channel_readers_changed(message.channel_id, except_user_id=message.author_id)
    return message


def message_restore(*, user: User, message_id: int) -> Message:
    """Undoes a soft delete; moderators only.

    Publishes the replayable `message.updated` `{"message": M}` with the body back and
    fresh `unread` counters. Restoring a message that is not deleted changes nothing.
    Raises NotFound, Forbidden (not a moderator).
    """
    with transaction.atomic():
        message = Message.objects.select_for_update(of=("self",)).select_related("author").filter(pk=message_id).first()
        if message is None:
            raise NotFound("No such message.")
        if not is_moderator(user):
            raise Forbidden("Only moderators may restore messages.")
        if not message.is_deleted:
            return message
        message.deleted_at, message.deleted_by = None, None
        _publish_message_updated(message)
        channel_readers_changed(message.channel_id, except_user_id=message.author_id)
    return message
