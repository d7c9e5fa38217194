"""Channels and memberships: create, change, join, add and remove members, read marks."""

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils.text import slugify

from accounts.models import User
from accounts.selectors import is_moderator, user_public
from chat import selectors
from chat.models import CHANNEL_SLUG_MAX_LENGTH, Channel, Membership, Message, channel_topic
from chat.payloads import channel_data
from chat.services.common import clean_channel_fields, membership_for
from config.errors import Conflict, Forbidden, Invalid, NotFound
from realtime.api import publish, revoke, unread_changed


def _head_seq(channel_id: int) -> int:
    return Message.objects.filter(channel_id=channel_id).aggregate(head=Max("seq"))["head"] or 0


def _members_changed(channel_id: int) -> None:
    # Now and after commit: a count taken before the commit would otherwise be kept.
    selectors.channel_members_changed(channel_id=channel_id)
    transaction.on_commit(lambda: selectors.channel_members_changed(channel_id=channel_id))


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
    fields = clean_channel_fields(name=name, description=description)
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
            unread_changed(user_ids=[user.pk])
    except IntegrityError:
        raise Invalid(fields={"slug": "A channel with this slug already exists."}) from None
    channel.member_count = 1  # type: ignore[attr-defined]  # the annotation selectors add
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
        changes: dict[str, Any] = clean_channel_fields(name=name, description=description)
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
            channel.member_count = channel.memberships.count()  # type: ignore[attr-defined]  # as above
            publish(channel.topic_key, "channel.updated", {"channel": channel_data(channel)}, replayable=True)
    return channel


def channel_join(*, user: User, channel_id: int) -> tuple[Membership, bool]:
    """Makes `user` a member of a public channel; returns (membership, created).

    Members get their membership back unchanged. A new member starts with everything
    read (read mark at the channel's last message). Raises NotFound for an unknown
    channel, Forbidden for a private channel they are not in or an archived one.
    Sends the joiner's inbox fresh `unread` counters after commit.
    """
    # A member (every join but the first) costs this one query.
    membership = selectors.membership_get_with_channel(user_id=user.pk, channel_id=channel_id)
    if membership is not None:
        return membership, False
    channel = Channel.objects.filter(pk=channel_id).first()
    if channel is None:
        raise NotFound("No such channel.")
    if channel.is_private:
        raise Forbidden("This channel is private; ask one of its admins to add you.")
    if channel.is_archived:
        raise Forbidden("This channel is archived.")
    try:
        with transaction.atomic():
            membership = Membership.objects.create(channel=channel, user=user, last_read_seq=_head_seq(channel.pk))
            _members_changed(channel.pk)
            unread_changed(user_ids=[user.pk])
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
            _members_changed(channel.pk)
            unread_changed(user_ids=[member.pk])
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
        _members_changed(channel_id)
        publish(channel_topic(channel_id), "member.left", {"user": user_public(member)})
        revoke(channel_topic(channel_id), user_id=member_id)
        unread_changed(user_ids=[member_id])


def channel_mark_read(*, user: User, channel_id: int, seq: int | None = None) -> Membership:
    """Moves the member's read mark forward to `seq` (default: the last message).

    The mark never moves back and never past the channel's last message. When it
    moves, broadcasts `read` `{"user": U, "seq"}` on the channel (every device of the
    reader sees it) and sends the reader's inbox fresh `unread` counters. Raises
    NotFound (no such channel, or a private one they are not in), Forbidden (not a
    member), Invalid (negative seq).
    """
    with transaction.atomic():
        membership = membership_for(user, channel_id, not_member="Join the channel first.")
        if seq is not None and seq < 0:
            raise Invalid(fields={"seq": "Must be an integer >= 0."})
        head = _head_seq(channel_id)
        target = head if seq is None else min(seq, head)
        moved = Membership.objects.filter(pk=membership.pk, last_read_seq__lt=target).update(last_read_seq=target)
        if moved:
            membership.last_read_seq = target
            publish(channel_topic(channel_id), "read", {"user": user_public(user), "seq": target})
            unread_changed(user_ids=[user.pk])
        else:
            membership.refresh_from_db(fields=["last_read_seq"])
    return membership
