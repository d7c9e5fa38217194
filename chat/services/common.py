"""What the chat services share: content rules, idempotent sends, redaction, counters."""

import threading
from collections import defaultdict
from typing import Any, TypeVar

from django.db import transaction

from accounts.models import User
from chat import selectors
from chat.models import (
    BODY_MAX_LENGTH,
    CHANNEL_DESCRIPTION_MAX_LENGTH,
    CHANNEL_NAME_MAX_LENGTH,
    CLIENT_ID_MAX_LENGTH,
    Channel,
    Membership,
    MessageBase,
)
from config.errors import Conflict, Forbidden, Invalid, NotFound
from realtime.api import debounce, rewrite, unread_publish_many

SentMessage = TypeVar("SentMessage", bound=MessageBase)


def redact(item: MessageBase, payload: dict[str, Any]) -> None:
    """Rewrites the stored events that carried the item's earlier text to `payload` (its current state)."""
    seqs_by_topic: dict[str, list[int]] = defaultdict(list)
    for topic, seq in item.stream_events:
        seqs_by_topic[topic].append(seq)
    for topic in sorted(seqs_by_topic):
        rewrite(topic, seqs_by_topic[topic], payload)


def existing_send(
    model: type[SentMessage],
    *,
    sender: dict[str, Any],
    client_id: str,
    scope: tuple[str, int],
    conflict: str,
    related: tuple[str, ...],
) -> SentMessage | None:
    """The sender's earlier message with this `client_id` (a resend), or None.

    `sender` is the lookup of the unique (sender, client_id) pair, e.g. `{"author": user}`;
    `scope` the field and value the resend must match (its channel, its recipient), else
    Conflict(`conflict`). A malformed client_id has no earlier message.
    """
    if not 1 <= len(client_id) <= CLIENT_ID_MAX_LENGTH:
        return None
    # get(), not first(): first() would sort by Meta.ordering, and SQLite then walked that
    # index instead of looking up the unique (sender, client_id) pair.
    try:
        existing = model._default_manager.select_related(*related).get(**sender, client_id=client_id)
    except model.DoesNotExist:
        return None
    field, value = scope
    if getattr(existing, field) != value:
        raise Conflict(conflict)
    return existing


def clean_body(body: str) -> str:
    body = body.strip()
    if not body:
        raise Invalid(fields={"body": "Must not be empty."})
    if len(body) > BODY_MAX_LENGTH:
        raise Invalid(fields={"body": f"At most {BODY_MAX_LENGTH} characters."})
    return body


def check_client_id(client_id: str) -> None:
    if not 1 <= len(client_id) <= CLIENT_ID_MAX_LENGTH:
        raise Invalid(fields={"client_id": f"Must be 1 to {CLIENT_ID_MAX_LENGTH} characters."})


def clean_channel_fields(*, name: str | None, description: str | None) -> dict[str, str]:
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


def membership_for(user: User, channel_id: int, *, not_member: str) -> Membership:
    """The user's membership of a channel (with the channel); NotFound for no such channel or
    a private one they are not in, else Forbidden(`not_member`)."""
    membership = Membership.objects.filter(channel_id=channel_id, user=user).select_related("channel").first()
    if membership is None:
        channel = Channel.objects.filter(pk=channel_id).first()
        if channel is None or channel.is_private:
            raise NotFound("No such channel.")
        raise Forbidden(not_member)
    return membership


# -- counters --------------------------------------------------------------------


# Members' `unread` counters after channel messages go out at most this often per channel:
# in a busy channel each message would otherwise cost every online member a recount.
CHANNEL_UNREAD_EVERY = 0.5
# Per channel with a recount pending: the authors whose messages it covers so far.
_pending_authors: dict[int, set[int]] = {}
_pending_lock = threading.Lock()


def channel_readers_changed(channel_id: int, *, except_user_id: int) -> None:
    """After commit, the channel's members get fresh counters, coalesced per channel: all
    but `except_user_id` (whose own message it was) unless other authors' changes joined in."""

    def publish_counters() -> None:
        with _pending_lock:
            authors = _pending_authors.pop(channel_id, set())
        if not authors:
            return  # an earlier run that started after these commits covered them
        members = selectors.channel_member_ids(channel_id=channel_id)
        if len(authors) == 1:
            # Only the author's own messages changed: their counters did not.
            members = [user_id for user_id in members if user_id not in authors]
        unread_publish_many(user_ids=members)

    def schedule() -> None:
        with _pending_lock:
            _pending_authors.setdefault(channel_id, set()).add(except_user_id)
        debounce(f"chat.unread:{channel_id}", CHANNEL_UNREAD_EVERY, publish_counters)

    transaction.on_commit(schedule, robust=True)
