"""Direct messages between friends: send, edit, delete, read marks, each published to both inboxes."""

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from accounts.models import User
from accounts.selectors import are_friends, user_public
from chat.models import DirectMessage
from chat.payloads import dm_data
from chat.services.common import check_client_id, clean_body, existing_send, redact
from config.errors import Conflict, Forbidden, Invalid, NotFound
from realtime.api import inbox_topic, publish, unread_changed


def _publish_to_both(message: DirectMessage, event: str) -> None:
    """Publishes `{"message": D}` to both inboxes; events carrying text are recorded for redaction."""
    payload = {"message": dm_data(message)}
    # Always the lower user id's stream first: two DMs crossing in opposite directions
    # take the two stream rows' locks in the same order and cannot deadlock.
    for user_id in sorted((message.sender_id, message.recipient_id)):
        seq = publish(inbox_topic(user_id), event, payload, replayable=True)
        if not message.is_deleted:
            message.stream_events.append([inbox_topic(user_id), seq])
    if not message.is_deleted:
        message.save(update_fields=["stream_events"])


def _existing_dm(sender: User, client_id: str, recipient_id: int) -> DirectMessage | None:
    return existing_send(
        DirectMessage,
        sender={"sender": sender},
        client_id=client_id,
        scope=("recipient_id", recipient_id),
        conflict="This client_id was already used for a message to someone else.",
        related=("sender", "recipient"),
    )


def dm_send(*, sender: User, recipient_id: int, body: str, client_id: str) -> tuple[DirectMessage, bool]:
    """Sends a direct message to a friend (mutual follow); returns (message, created).

    Friendship is checked in the database on every send; to anyone else nothing is
    stored. Idempotent by `client_id` like `message_create`. Publishes the replayable
    `dm.created` `{"message": D}` to both inboxes (each stream its own seq), so an
    offline recipient finds it on their next inbox join, and fresh `unread` counters
    to the recipient. Raises NotFound (no such active user), Forbidden (not friends),
    Invalid (body, client_id), Conflict (client_id used for another recipient).
    """
    existing = _existing_dm(sender, client_id, recipient_id)
    if existing is not None:
        return existing, False
    recipient = User.objects.filter(pk=recipient_id, is_active=True).first()
    if recipient is None:
        raise NotFound("No such user.")
    if not are_friends(sender, recipient):
        raise Forbidden("Direct messages are only between friends (users who follow each other).")
    body = clean_body(body)
    check_client_id(client_id)
    try:
        with transaction.atomic():
            message = DirectMessage.objects.create(sender=sender, recipient=recipient, body=body, client_id=client_id)
            _publish_to_both(message, "dm.created")
            unread_changed(user_ids=[recipient.pk])
    except IntegrityError:
        existing = _existing_dm(sender, client_id, recipient_id)
        if existing is None:
            raise
        return existing, False
    return message, True


def _dm_for_sender(user: User, message_id: int) -> DirectMessage:
    """The message locked for update; NotFound outside the user's conversations, Forbidden for the recipient."""
    message = (
        DirectMessage.objects.select_for_update(of=("self",))
        .select_related("sender", "recipient")
        .filter(pk=message_id)
        .first()
    )
    if message is None or user.pk not in (message.sender_id, message.recipient_id):
        raise NotFound("No such message.")
    if message.sender_id != user.pk:
        raise Forbidden("Only the sender may change this message.")
    return message


def dm_update(*, user: User, message_id: int, body: str) -> DirectMessage:
    """Edits a direct message; its sender only, while still friends with the recipient.

    Publishes the replayable `dm.updated` `{"message": D}` to both inboxes and rewrites
    their stored events that carried the old text. The same
    body again changes nothing. Raises NotFound (not their conversation), Forbidden
    (not the sender, no longer friends), Conflict (deleted), Invalid (body).
    """
    with transaction.atomic():
        message = _dm_for_sender(user, message_id)
        if not are_friends(message.sender_id, message.recipient_id):
            raise Forbidden("Direct messages are only between friends (users who follow each other).")
        if message.is_deleted:
            raise Conflict("This message was deleted.")
        body = clean_body(body)
        if body == message.body:
            return message
        message.body, message.edited_at = body, timezone.now()
        message.save(update_fields=["body", "edited_at"])
        redact(message, {"message": dm_data(message)})
        _publish_to_both(message, "dm.updated")
    return message


def dm_delete(*, user: User, message_id: int) -> DirectMessage:
    """Soft-deletes a direct message; its sender only.

    Redacts the text from both inboxes' stored events and publishes the replayable
    `dm.deleted` `{"message": D}` (empty body) to both inboxes,
    and fresh `unread` counters to the recipient when it was unread. Deleting a deleted
    message changes nothing. Raises NotFound (not their conversation), Forbidden (not
    the sender).
    """
    with transaction.atomic():
        message = _dm_for_sender(user, message_id)
        if message.is_deleted:
            return message
        message.deleted_at = timezone.now()
        message.save(update_fields=["deleted_at"])
        redact(message, {"message": dm_data(message)})
        _publish_to_both(message, "dm.deleted")
        if message.read_at is None:
            unread_changed(user_ids=[message.recipient_id])
    return message


def dm_mark_read(*, user: User, other_id: int, up_to: int | None = None) -> tuple[int, int]:
    """Marks the other user's messages to `user` up to message id `up_to` (default: all) as read.

    Returns (number newly marked, up_to). When any were marked, publishes the
    replayable `dm.read` `{"with": U, "up_to", "reader": U}` to both inboxes (`with` is
    the other party of each inbox's owner, `reader` is `user`: in the reader's inbox it
    is the owner, "I read their messages"; in the other's, `reader` equals `with`, "they
    read mine") and fresh `unread` counters to the reader. Raises NotFound (no such
    user), Invalid (up_to below 1).
    """
    other = User.objects.filter(pk=other_id).exclude(pk=user.pk).first()
    if other is None:
        raise NotFound("No such user.")
    if up_to is not None and up_to < 1:
        raise Invalid(fields={"up_to": "Must be a message id."})
    with transaction.atomic():
        unread = DirectMessage.objects.filter(sender=other, recipient=user, read_at__isnull=True)
        if up_to is None:
            up_to = unread.aggregate(last=Max("pk"))["last"] or 0
        marked = unread.filter(pk__lte=up_to).update(read_at=timezone.now())
        if marked:
            reader = user_public(user)
            for owner, party in sorted([(user.pk, other), (other.pk, user)], key=lambda pair: pair[0]):
                payload = {"with": user_public(party), "up_to": up_to, "reader": reader}
                publish(inbox_topic(owner), "dm.read", payload, replayable=True)
            unread_changed(user_ids=[user.pk])
    return marked, up_to
