"""Every write to channels, memberships, channel messages and direct messages.

REST views, the realtime topics, admin actions and signal receivers all call these.
Each runs in one transaction and publishes its events through `realtime.publish`
inside it: replayable events are stored with their seq in the same transaction and
every event goes out only after commit. Services raise `config.errors` domain errors,
checked in the protocol's order: NotFound, then Forbidden, then Invalid.
"""

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.text import slugify

from accounts.models import User
from accounts.selectors import are_friends, friend_ids_of, user_public
from chat.models import (
    BODY_MAX_LENGTH,
    CHANNEL_DESCRIPTION_MAX_LENGTH,
    CHANNEL_NAME_MAX_LENGTH,
    CHANNEL_SLUG_MAX_LENGTH,
    CLIENT_ID_MAX_LENGTH,
    Channel,
    DirectMessage,
    Membership,
    Message,
    MessageEdit,
)
from chat.selectors import channel_data, dm_data, is_moderator, message_data, unread_counts
from config.errors import Conflict, Forbidden, Invalid, NotFound
from realtime.hub import online_user_ids
from realtime.publish import debounce, publish, revoke, rewrite


def inbox_key(user_id: int) -> str:
    return f"inbox:{user_id}"


def channel_key(channel_id: int) -> str:
    return f"chat:{channel_id}"


def _redact(item: Message | DirectMessage, payload: dict[str, Any]) -> None:
    """Rewrites the stored events that carried the item's earlier text to `payload` (its current state)."""
    seqs_by_topic: dict[str, list[int]] = defaultdict(list)
    for topic, seq in item.stream_events:
        seqs_by_topic[topic].append(seq)
    for topic in sorted(seqs_by_topic):
        rewrite(topic, seqs_by_topic[topic], payload)


# -- validation ------------------------------------------------------------------


def _clean_body(body: str) -> str:
    body = body.strip()
    if not body:
        raise Invalid(fields={"body": "Must not be empty."})
    if len(body) > BODY_MAX_LENGTH:
        raise Invalid(fields={"body": f"At most {BODY_MAX_LENGTH} characters."})
    return body


def _check_client_id(client_id: str) -> None:
    if not 1 <= len(client_id) <= CLIENT_ID_MAX_LENGTH:
        raise Invalid(fields={"client_id": f"Must be 1 to {CLIENT_ID_MAX_LENGTH} characters."})


def _clean_channel_fields(*, name: str | None, description: str | None) -> dict[str, str]:
    fields: dict[str, str] = {}
    if name is not None:
        fields["name"] = name.strip()
        if not fields["name"] or len(fields["name"]) > CHANNEL_NAME_MAX_LENGTH:
            raise Invalid(fields={"name": f"Must be 1 to {CHANNEL_NAME_MAX_LENGTH} characters."})
    if description is not None:
        fields["description"] = description.strip()
        if len(fields["description"]) > CHANNEL_DESCRIPTION_MAX_LENGTH:
            raise Invalid(fields={"description": f"At most {CHANNEL_DESCRIPTION_MAX_LENGTH} characters."})
    return fields


# -- unread counters -------------------------------------------------------------


def unread_publish(*, user_ids: Iterable[int]) -> None:
    """Sends the current `unread` counters to the inbox of each of these users who is online.

    Offline users get their counters with their next inbox join, so they cost nothing here.
    """
    online = sorted(online_user_ids(set(user_ids)))
    for user_id, counters in unread_counts(user_ids=online).items():
        publish(inbox_key(user_id), "unread", counters)


def _unread_changed(user_ids: Iterable[int]) -> None:
    # After commit, so the counters are read from what was committed.
    ids = set(user_ids)
    if ids:
        transaction.on_commit(lambda: unread_publish(user_ids=ids), robust=True)


# Members' `unread` counters after channel messages go out at most this often per channel:
# in a busy channel each message would otherwise cost every online member a recount.
CHANNEL_UNREAD_EVERY = 0.5


def _channel_readers_changed(channel_id: int, *, except_user_id: int) -> None:
    def publish_counters() -> None:
        member_ids = Membership.objects.filter(channel_id=channel_id).exclude(user_id=except_user_id)
        unread_publish(user_ids=member_ids.values_list("user_id", flat=True))

    # Keyed by author too, so merged calls agree on whose counters did not change.
    key = f"chat.unread:{channel_id}:{except_user_id}"
    transaction.on_commit(lambda: debounce(key, CHANNEL_UNREAD_EVERY, publish_counters), robust=True)


# -- channels --------------------------------------------------------------------


def _head_seq(channel_id: int) -> int:
    return Message.objects.filter(channel_id=channel_id).aggregate(head=Max("seq"))["head"] or 0


def _can_manage(user: User, channel: Channel) -> bool:
    is_admin = Membership.objects.filter(channel=channel, user=user, role=Membership.Role.ADMIN).exists()
    return is_admin or is_moderator(user)


def _channel_for_manager(user: User, channel_id: int) -> Channel:
    """The channel if `user` is its admin or a moderator; NotFound when they may not see it."""
    channel = Channel.objects.filter(pk=channel_id).first()
    if channel is None:
        raise NotFound("No such channel.")
    allowed = _can_manage(user, channel)
    if not allowed:
        if channel.is_private and not Membership.objects.filter(channel=channel, user=user).exists():
            raise NotFound("No such channel.")
        raise Forbidden("Only the channel's admins and moderators may do that.")
    return channel


def channel_create(
    *, user: User, name: str, slug: str = "", description: str = "", is_private: bool = False
) -> Channel:
    """Creates a channel with `user` as its admin member.

    Without a slug one is made from the name (with a number added when taken).
    Raises Invalid for a bad name, description or slug, or a slug already taken.
    """
    fields = _clean_channel_fields(name=name, description=description)
    slug = slug.strip()
    chosen = slug or slugify(fields["name"])[:CHANNEL_SLUG_MAX_LENGTH].strip("-")
    if not chosen or slugify(chosen) != chosen:
        raise Invalid(fields={"slug": "Use lowercase letters, numbers, hyphens and underscores."})
    if not slug:
        base, number = chosen, 2
        while Channel.objects.filter(slug=chosen).exists():
            suffix = f"-{number}"
            chosen, number = base[: CHANNEL_SLUG_MAX_LENGTH - len(suffix)] + suffix, number + 1
    try:
        with transaction.atomic():
            channel = Channel.objects.create(
                name=fields["name"],
                slug=chosen,
                description=fields["description"],
                is_private=is_private,
                created_by=user,
            )
            Membership.objects.create(channel=channel, user=user, role=Membership.Role.ADMIN)
            _unread_changed([user.pk])
    except IntegrityError:
        raise Invalid(fields={"slug": "A channel with this slug already exists."}) from None
    channel.member_count = 1  # type: ignore[attr-defined]
    return channel


def channel_update(
    *,
    user: User,
    channel_id: int,
    name: str | None = None,
    description: str | None = None,
    is_private: bool | None = None,
    is_archived: bool | None = None,
) -> Channel:
    """Changes a channel's settings; the channel's admins and moderators only.

    Archiving makes the channel read-only at once (sends are refused by the message
    services); an archived channel accepts no other change until it is unarchived,
    which may come in the same call. Publishes the replayable `channel.updated`
    `{"channel": C}` on `chat:<id>` when something changed. Raises NotFound (unknown or
    someone else's private channel), Forbidden, Invalid.
    """
    with transaction.atomic():
        channel = _channel_for_manager(user, channel_id)
        channel = Channel.objects.select_for_update().get(pk=channel.pk)
        changes: dict[str, Any] = _clean_channel_fields(name=name, description=description)
        if is_private is not None:
            changes["is_private"] = is_private
        changes = {field: value for field, value in changes.items() if getattr(channel, field) != value}
        still_archived = channel.is_archived if is_archived is None else is_archived
        if channel.is_archived and still_archived and changes:
            raise Forbidden("This channel is archived; unarchive it first.")
        if is_archived is not None and is_archived != channel.is_archived:
            changes["is_archived"] = is_archived
        changed = list(changes)
        for field in changed:
            setattr(channel, field, changes[field])
        if changed:
            channel.save(update_fields=changed)
            channel.member_count = channel.memberships.count()  # type: ignore[attr-defined]
            publish(channel.topic_key, "channel.updated", {"channel": channel_data(channel)}, replayable=True)
    return channel


def channel_join(*, user: User, channel_id: int) -> tuple[Membership, bool]:
    """Makes `user` a member of a public channel; returns (membership, created).

    Members get their membership back unchanged. A new member starts with everything
    read (read mark at the channel's last message). Raises NotFound for an unknown
    channel, Forbidden for a private channel they are not in or an archived one.
    Sends the joiner's inbox fresh `unread` counters after commit.
    """
    channel = Channel.objects.filter(pk=channel_id).first()
    if channel is None:
        raise NotFound("No such channel.")
    membership = Membership.objects.filter(channel=channel, user=user).select_related("channel").first()
    if membership is not None:
        return membership, False
    if channel.is_private:
        raise Forbidden("This channel is private; ask one of its admins to add you.")
    if channel.is_archived:
        raise Forbidden("This channel is archived.")
    try:
        with transaction.atomic():
            membership = Membership.objects.create(channel=channel, user=user, last_read_seq=_head_seq(channel.pk))
            _unread_changed([user.pk])
    except IntegrityError:
        # Joined concurrently (another tab): the first membership stands.
        return Membership.objects.select_related("channel").get(channel=channel, user=user), False
    return membership, True


def channel_member_add(
    *, user: User, channel_id: int, member_id: int, role: str = Membership.Role.MEMBER
) -> Membership:
    """Adds another user to a channel (how people get into private channels).

    The channel's admins and moderators only. Raises NotFound (channel, or no such
    active user), Forbidden (not allowed, archived channel), Conflict (already a
    member), Invalid (unknown role).
    """
    channel = _channel_for_manager(user, channel_id)
    member = User.objects.filter(pk=member_id, is_active=True).first()
    if member is None:
        raise NotFound("No such user.")
    if channel.is_archived:
        raise Forbidden("This channel is archived.")
    if role not in Membership.Role.values:
        raise Invalid(fields={"role": f"One of {', '.join(Membership.Role.values)}."})
    try:
        with transaction.atomic():
            membership = Membership.objects.create(
                channel=channel, user=member, role=role, last_read_seq=_head_seq(channel.pk)
            )
            _unread_changed([member.pk])
    except IntegrityError:
        raise Conflict("Already a member.") from None
    return membership


def channel_member_remove(*, user: User, channel_id: int, member_id: int) -> None:
    """Ends a membership: one's own (leaving) or, for channel admins and moderators, anyone's.

    Publishes the ephemeral `member.left` `{"user": U}` on the channel (the event that
    explains the removal), then the member's connections stop receiving the channel
    (their topic is revoked) and their inbox gets fresh counters. Raises NotFound (no
    such channel or membership), Forbidden (removing someone else without the right).
    """
    with transaction.atomic():
        if member_id == user.pk:
            membership = Membership.objects.filter(channel_id=channel_id, user_id=member_id).first()
            if membership is None:
                raise NotFound("You are not a member of this channel.")
        else:
            channel = _channel_for_manager(user, channel_id)
            membership = Membership.objects.filter(channel=channel, user_id=member_id).first()
            if membership is None:
                raise NotFound("That user is not a member of this channel.")
        member = User.objects.get(pk=member_id)
        membership.delete()
        publish(channel_key(channel_id), "member.left", {"user": user_public(member)})
        revoke(channel_key(channel_id), user_id=member_id)
        _unread_changed([member_id])


def channel_mark_read(*, user: User, channel_id: int, seq: int | None = None) -> Membership:
    """Moves the member's read mark forward to `seq` (default: the last message).

    The mark never moves back and never past the channel's last message. When it
    moves, broadcasts `read` `{"user": U, "seq"}` on the channel (every device of the
    reader sees it) and sends the reader's inbox fresh `unread` counters. Raises
    NotFound (no such channel, or a private one they are not in), Forbidden (not a
    member), Invalid (negative seq).
    """
    with transaction.atomic():
        membership = Membership.objects.filter(channel_id=channel_id, user=user).select_related("channel").first()
        if membership is None:
            channel = Channel.objects.filter(pk=channel_id).first()
            if channel is None or channel.is_private:
                raise NotFound("No such channel.")
            raise Forbidden("Join the channel first.")
        if seq is not None and seq < 0:
            raise Invalid(fields={"seq": "Must be an integer >= 0."})
        head = _head_seq(channel_id)
        target = head if seq is None else min(seq, head)
        moved = Membership.objects.filter(pk=membership.pk, last_read_seq__lt=target).update(last_read_seq=target)
        if moved:
            membership.last_read_seq = target
            publish(channel_key(channel_id), "read", {"user": user_public(user), "seq": target})
            _unread_changed([user.pk])
        else:
            membership.refresh_from_db(fields=["last_read_seq"])
    return membership


# -- channel messages ------------------------------------------------------------


def _existing_message(user: User, client_id: str, channel_id: int) -> Message | None:
    # get(), not first(): first() would sort by Meta.ordering (channel, seq), and SQLite then
    # walked that index instead of looking up the unique (author, client_id) pair.
    try:
        existing = Message.objects.select_related("author").get(author=user, client_id=client_id)
    except Message.DoesNotExist:
        existing = None
    if existing is not None and existing.channel_id != channel_id:
        raise Conflict("This client_id was already used for a message in another channel.")
    return existing


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
    if 1 <= len(client_id) <= CLIENT_ID_MAX_LENGTH:
        existing = _existing_message(user, client_id, channel_id)
        if existing is not None:
            return existing, False
    membership = Membership.objects.filter(channel_id=channel_id, user=user).select_related("channel").first()
    if membership is None:
        channel = Channel.objects.filter(pk=channel_id).first()
        if channel is None or channel.is_private:
            raise NotFound("No such channel.")
        raise Forbidden("Join the channel to post in it.")
    if membership.channel.is_archived:
        raise Forbidden("This channel is archived.")
    body = _clean_body(body)
    _check_client_id(client_id)
    message = Message(channel=membership.channel, author=user, body=body, client_id=client_id)

    def created(seq: int) -> dict[str, Any]:
        # Stored with the seq the stream just assigned, in the same transaction.
        message.seq = seq
        message.stream_events = [[channel_key(channel_id), seq]]
        message.save(force_insert=True)
        return {"message": message_data(message)}

    try:
        with transaction.atomic():
            publish(channel_key(channel_id), "message.created", created, replayable=True)
            _channel_readers_changed(channel_id, except_user_id=user.pk)
    except IntegrityError:
        existing = _existing_message(user, client_id, channel_id)
        if existing is None:
            raise
        return existing, False
    return message, True


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
        body = _clean_body(body)
        if body == message.body:
            return message
        MessageEdit.objects.create(message=message, body=message.body, edited_by=user)
        message.body, message.edited_at = body, timezone.now()
        _redact(message, {"message": message_data(message)})
        _publish_message_updated(message)
    return message


def _publish_message_updated(message: Message) -> None:
    """Saves the message's changed text with the seq of the `message.updated` event that carries it."""
    topic = channel_key(message.channel_id)

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
        _redact(message, {"message": message_data(message)})
        publish(message.channel.topic_key, "message.deleted", {"message": message_data(message)}, replayable=True)
        _channel_readers_changed(message.channel_id, except_user_id=message.author_id)
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
        _channel_readers_changed(message.channel_id, except_user_id=message.author_id)
    return message


# -- direct messages -------------------------------------------------------------


def _publish_to_both(message: DirectMessage, event: str) -> None:
    """Publishes `{"message": D}` to both inboxes; events carrying text are recorded for redaction."""
    payload = {"message": dm_data(message)}
    # Always the lower user id's stream first: two DMs crossing in opposite directions
    # take the two stream rows' locks in the same order and cannot deadlock.
    for user_id in sorted((message.sender_id, message.recipient_id)):
        seq = publish(inbox_key(user_id), event, payload, replayable=True)
        if not message.is_deleted:
            message.stream_events.append([inbox_key(user_id), seq])
    if not message.is_deleted:
        message.save(update_fields=["stream_events"])


def _existing_dm(sender: User, client_id: str, recipient_id: int) -> DirectMessage | None:
    existing = (
        DirectMessage.objects.filter(sender=sender, client_id=client_id).select_related("sender", "recipient").first()
    )
    if existing is not None and existing.recipient_id != recipient_id:
        raise Conflict("This client_id was already used for a message to someone else.")
    return existing


def dm_send(*, sender: User, recipient_id: int, body: str, client_id: str) -> tuple[DirectMessage, bool]:
    """Sends a direct message to a friend (mutual follow); returns (message, created).

    Friendship is checked in the database on every send; to anyone else nothing is
    stored. Idempotent by `client_id` like `message_create`. Publishes the replayable
    `dm.created` `{"message": D}` to both inboxes (each stream its own seq), so an
    offline recipient finds it on their next inbox join, and fresh `unread` counters
    to the recipient. Raises NotFound (no such active user), Forbidden (not friends),
    Invalid (body, client_id), Conflict (client_id used for another recipient).
    """
    if 1 <= len(client_id) <= CLIENT_ID_MAX_LENGTH:
        existing = _existing_dm(sender, client_id, recipient_id)
        if existing is not None:
            return existing, False
    recipient = User.objects.filter(pk=recipient_id, is_active=True).first()
    if recipient is None:
        raise NotFound("No such user.")
    if not are_friends(sender, recipient):
        raise Forbidden("Direct messages are only between friends (users who follow each other).")
    body = _clean_body(body)
    _check_client_id(client_id)
    try:
        with transaction.atomic():
            message = DirectMessage.objects.create(sender=sender, recipient=recipient, body=body, client_id=client_id)
            _publish_to_both(message, "dm.created")
            _unread_changed([recipient.pk])
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
        body = _clean_body(body)
        if body == message.body:
            return message
        message.body, message.edited_at = body, timezone.now()
        message.save(update_fields=["body", "edited_at"])
        _redact(message, {"message": dm_data(message)})
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
        _redact(message, {"message": dm_data(message)})
        _publish_to_both(message, "dm.deleted")
        if message.read_at is None:
            _unread_changed([message.recipient_id])
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
                publish(inbox_key(owner), "dm.read", payload, replayable=True)
            _unread_changed([user.pk])
    return marked, up_to


# -- presence --------------------------------------------------------------------


def presence_announce(*, user_id: int, online: bool) -> None:
    """Tells the user's online friends that the user came online or went offline.

    Publishes the ephemeral inbox event `presence` `{"user": U, "online"}` to each of
    them. Called by the realtime core's `user_presence_changed` (a user's first
    connection opened, or their last one closed), so several tabs count once.
    """
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        return
    payload = {"user": user_public(user), "online": online}
    for friend_id in sorted(online_user_ids(friend_ids_of(user))):
        publish(inbox_key(friend_id), "presence", payload)
