"""Shares: create, change, end (and expire), who may watch, kicking a viewer; viewer comments."""

import base64
import logging
import time
from datetime import datetime
from typing import Any

from django.contrib.auth.hashers import check_password, make_password
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from accounts.models import User
from config.errors import Forbidden, Invalid, NotFound, RateLimited, Unauthorized
from realtime.api import debounce, presence_state, publish, revoke
from shares.models import (
    ANONYMOUS_NAME,
    COMMENT_MAX_LENGTH,
    COMMENT_NAME_MAX_LENGTH,
    PASSWORD_MIN_LENGTH,
    SHARE_TITLE_MAX_LENGTH,
    Goal,
    Share,
    ShareComment,
    ShareStreamItem,
)
from shares.payloads import comment_data, goal_data
from shares.selectors import share_view_data
from shares.services.common import (
    clean_text,
    is_kicked,
    kick_record,
    password_check_allowed,
    password_failed,
    publish_on_share,
    recall_viewer,
    redact_items,
    remember_viewer,
    slow_mode_record,
    slow_mode_wait,
)

logger = logging.getLogger(__name__)

MAX_COMMENT_INTERVAL = 3600
# Each process checks a watched share's expiry at least this often (the "within 60 s" promise).
EXPIRY_CHECK_EVERY = 50.0
_UNSET: Any = object()

OWNER = "owner"
VIEWER = "viewer"


def viewer_subject(user: User | None, address: str) -> str:
    """Who a viewer is for kicks and slow mode: the signed-in user, else the client address."""
    return f"u:{user.pk}" if user is not None else f"ip:{address}"


def _live_share(token: str) -> Share:
    share = Share.objects.select_related("owner").filter(token=token).first()
    if share is None or not share.is_live:
        raise NotFound("No such share, or it has ended.")
    return share


def _owned_share(user: User, share_id: int, *, lock: bool = False) -> Share:
    qs = Share.objects.select_related("owner").filter(pk=share_id, owner=user)
    if lock:
        qs = qs.select_for_update(of=("self",))
    share = qs.first()
    if share is None:
        raise NotFound("No such share.")
    return share


def share_access(*, token: str, user: User | None, password: str | None, address: str) -> tuple[Share, str]:
    """Who may watch: the share (live) and the role, `owner` for its signed-in owner, else `viewer`.

    Raises NotFound (unknown, ended or expired token), Forbidden (kicked within the last
    10 minutes; password share with a missing or wrong password), RateLimited with
    `retry_after` after 5 wrong passwords for the share from this address within 10
    minutes (the right password included, until the window has passed).
    """
    share = _live_share(token)
    if user is not None and user.pk == share.owner_id:
        return share, OWNER
    if is_kicked(share, viewer_subject(user, address)):
        raise Forbidden("You were removed from this share; try again later.")
    if share.kind == Share.Kind.PASSWORD:
        password_check_allowed(share, address)
        if not password or not check_password(password, share.password):
            password_failed(share, address)
            raise Forbidden("Wrong password." if password else "This share needs its password.")
    return share, VIEWER


# -- owner's writes ------------------------------------------------------------------


def _clean_password(kind: str, password: str | None) -> str:
    if kind != Share.Kind.PASSWORD:
        return ""
    if password is None or len(password) < PASSWORD_MIN_LENGTH:
        raise Invalid(
            fields={"password": f"A password share needs a password of at least {PASSWORD_MIN_LENGTH} characters."}
        )
    return make_password(password)


def _chosen_goals(user: User, goals: Any) -> list[Goal] | None:
    """None for "all"; else the owner's goals with these ids (Invalid naming unknown ones)."""
    if goals == "all":
        return None
    if not isinstance(goals, list) or not all(
        isinstance(goal_id, int) and not isinstance(goal_id, bool) for goal_id in goals
    ):
        raise Invalid(fields={"goals": 'Must be "all" or a list of goal ids.'})
    found = list(Goal.objects.filter(owner=user, pk__in=goals))
    if len(found) != len(set(goals)):
        raise Invalid(fields={"goals": "Unknown goal ids."})
    return found


def _check_interval(interval: int) -> int:
    if not 0 <= interval <= MAX_COMMENT_INTERVAL:
        raise Invalid(fields={"comment_interval": f"Must be 0 to {MAX_COMMENT_INTERVAL} seconds."})
    return interval


def share_create(
    *,
    user: User,
    title: str,
    kind: str = Share.Kind.PUBLIC,
    password: str | None = None,
    expires_at: datetime | None = None,
    goals: Any = "all",
    show_progress: bool = True,
    show_reflections: bool = False,
    allow_comments: bool = True,
    allow_anonymous_comments: bool = True,
    comment_interval: int = 0,
) -> Share:
    """Creates a share of the user's goals with a fresh unguessable token.

    Raises Invalid (title 1..120, a password share without a password of at least 4
    characters, goals not "all" or the user's own goal ids, expiry in the past, slow mode
    outside 0..3600 s).
    """
    if kind not in Share.Kind.values:
        raise Invalid(fields={"kind": "One of public, password."})
    if expires_at is not None and expires_at <= timezone.now():
        raise Invalid(fields={"expires_at": "Must be in the future."})
    share = Share(
        owner=user,
        title=clean_text(title, "title", maximum=SHARE_TITLE_MAX_LENGTH, minimum=1),
        kind=kind,
        password=_clean_password(kind, password),
        expires_at=expires_at,
        show_progress=show_progress,
        show_reflections=show_reflections,
        allow_comments=allow_comments,
        allow_anonymous_comments=allow_anonymous_comments,
        comment_interval=_check_interval(comment_interval),
    )
    chosen = _chosen_goals(user, goals)
    share.all_goals = chosen is None
    with transaction.atomic():
        share.save(force_insert=True)
        if chosen:
            share.goals.set(chosen)
    return share


def share_update(
    *,
    user: User,
    share_id: int,
    title: str = _UNSET,
    kind: str = _UNSET,
    password: str | None = _UNSET,
    expires_at: datetime | None = _UNSET,
    goals: Any = _UNSET,
    show_progress: bool = _UNSET,
    show_reflections: bool = _UNSET,
    allow_comments: bool = _UNSET,
    allow_anonymous_comments: bool = _UNSET,
    comment_interval: int = _UNSET,
) -> Share:
    """Changes the owner's share (only the fields given).

    Goals taken out of the scope get `{"type": "goal.removed"}` and goals added
    `{"type": "goal"}` (`progress.updated`); stored events about what the share no longer
    shows (removed goals, hidden progress entries or reflections) are redacted. Then
    `share.updated {"share": ...}` (the viewer's share object) tells viewers the new state.
    A new password (or turning a public share into a password one) removes everyone from
    the topic after `share.revoked {"reason": "password"}`: viewers join again with the
    new password. Raises NotFound (not theirs, or ended), Invalid (as `share_create`).
    """
    with transaction.atomic():
        share = _owned_share(user, share_id, lock=True)
        if not share.is_live:
            raise NotFound("This share has ended.")
        fields: list[str] = []
        if title is not _UNSET:
            share.title = clean_text(title, "title", maximum=SHARE_TITLE_MAX_LENGTH, minimum=1)
            fields.append("title")
        access_removed = False
        if kind is not _UNSET or password is not _UNSET:
            new_kind = share.kind if kind is _UNSET else kind
            if new_kind not in Share.Kind.values:
                raise Invalid(fields={"kind": "One of public, password."})
            if new_kind == Share.Kind.PASSWORD and (password is _UNSET or password is None):
                if share.kind != Share.Kind.PASSWORD:
                    raise Invalid(fields={"password": "A password share needs a password."})
            else:
                share.password = _clean_password(new_kind, None if password is _UNSET else password)
                access_removed = new_kind == Share.Kind.PASSWORD
            share.kind = new_kind
            fields += ["kind", "password"]
        if expires_at is not _UNSET:
            if expires_at is not None and expires_at <= timezone.now():
                raise Invalid(fields={"expires_at": "Must be in the future."})
            share.expires_at = expires_at
            fields.append("expires_at")
        for name, value in (
            ("show_progress", show_progress),
            ("show_reflections", show_reflections),
            ("allow_comments", allow_comments),
            ("allow_anonymous_comments", allow_anonymous_comments),
        ):
            if value is not _UNSET:
                setattr(share, name, value)
                fields.append(name)
        if comment_interval is not _UNSET:
            share.comment_interval = _check_interval(comment_interval)
            fields.append("comment_interval")
        previous_goals = _scope_ids(share)
        if goals is not _UNSET:
            chosen = _chosen_goals(user, goals)
            share.all_goals = chosen is None
            fields.append("all_goals")
        if not fields:
            return share
        share.save(update_fields=fields)
        if goals is not _UNSET:
            share.goals.set(chosen or [])
        _publish_scope_change(share, previous_goals)
        publish(share.topic_key, "share.updated", {"share": share_view_data(share)}, replayable=True)
        if access_removed:
            publish(share.topic_key, "share.revoked", {"reason": "password"}, replayable=True)
            revoke(share.topic_key)
    if share.expires_at is not None:
        transaction.on_commit(lambda: expiry_watch(share), robust=True)
    return share


def _scope_ids(share: Share) -> set[int]:
    if share.all_goals:
        return set(Goal.objects.filter(owner_id=share.owner_id).values_list("pk", flat=True))
    return set(share.goals.values_list("pk", flat=True))


def _publish_scope_change(share: Share, previous: set[int]) -> None:
    """Events and redactions for goals that left or joined the scope and for hidden kinds of items."""
    current = _scope_ids(share)
    for goal_id in sorted(previous - current):
        removed = {"type": "goal.removed", "goal_id": goal_id}
        redact_items(share, ShareStreamItem.objects.filter(share=share, goal_id=goal_id), removed)
        publish_on_share(share, removed, kind=ShareStreamItem.Kind.GOAL, goal=None)
    for goal in Goal.objects.filter(pk__in=current - previous).order_by("pk"):
        publish_on_share(share, {"type": "goal", "goal": goal_data(goal)}, kind=ShareStreamItem.Kind.GOAL, goal=goal)
    if not share.show_progress:
        entries = ShareStreamItem.objects.filter(share=share, kind=ShareStreamItem.Kind.PROGRESS).select_related("goal")
        for item in entries:
            if item.goal is not None:
                redact_items(share, [item], {"type": "goal", "goal": goal_data(item.goal)})
        entries.update(kind=ShareStreamItem.Kind.GOAL)
    if not share.show_reflections:
        for item in ShareStreamItem.objects.filter(share=share, kind=ShareStreamItem.Kind.REFLECTION):
            redact_items(share, [item], {"type": "reflection.removed", "reflection_id": item.object_id})


def _end(share: Share, reason: str) -> None:
    share.is_active = False
    share.ended_at = timezone.now()
    share.save(update_fields=["is_active", "ended_at"])
    publish(share.topic_key, "share.ended", {"reason": reason}, replayable=True)
    revoke(share.topic_key)


def share_end(*, user: User, share_id: int) -> Share:
    """Ends a share: its owner, or staff with the `shares.change_share` permission (the admin).

    Publishes `share.ended {"reason": "ended"}`, then removes everyone from the topic;
    later joins and REST reads are NotFound. Ending an ended share changes nothing.
    """
    with transaction.atomic():
        share = Share.objects.select_for_update().filter(pk=share_id).first()
        if share is None or (share.owner_id != user.pk and not user.has_perm("shares.change_share")):
            raise NotFound("No such share.")
        if share.is_active:
            _end(share, "ended")
    return share


def share_expire_due(*, share_id: int) -> bool:
    """Ends the share if its expiry has passed (`share.ended {"reason": "expired"}`); True if it did.

    Called by the expiry watch of each process with viewers on the share, so no cron is needed.
    """
    with transaction.atomic():
        share = Share.objects.select_for_update().filter(pk=share_id).first()
        if share is None or not share.is_active or share.expires_at is None or share.expires_at > timezone.now():
            return False
        _end(share, "expired")
    return True


def expiry_watch(share: Share) -> None:
    """Schedules, in this server process, the end of an expiring share for its connected viewers.

    The check runs when the share expires, or every 50 s until then (so a changed expiry
    is noticed in time), and ends the share within a second of `expires_at`. Idempotent
    per share: the hub's debounce merges repeated calls. The watch stops when nobody is on
    the share any more; the next join starts it again.
    """
    if share.expires_at is None or not share.is_active:
        return
    delay = max(0.05, min(EXPIRY_CHECK_EVERY, (share.expires_at - timezone.now()).total_seconds() + 0.05))
    scheduled_at = time.monotonic()
    share_id = share.pk

    def check() -> None:
        # Without a server's event loop (a management command, a sync test) debounce runs
        # this at once; nobody is connected there to be told, and rescheduling would spin.
        if time.monotonic() - scheduled_at < delay / 2:
            return
        if share_expire_due(share_id=share_id):
            return
        current = Share.objects.filter(pk=share_id).first()
        if current is not None and presence_state(current.topic_key).count > 0:
            expiry_watch(current)

    debounce(f"shares.expiry:{share_id}", delay, check)


def viewer_kick(*, user: User, share_id: int, viewer: str) -> None:
    """Kicks a viewer (`viewer`: an `online[].id` of the room summary) from the owner's share.

    Their connections get `share.kicked {"viewer"}` and are closed with 4403 (an anonymous
    viewer: that one connection); they cannot rejoin for 10 minutes (a signed-in viewer
    as that user, an anonymous one from that address). Raises NotFound (not their
    share), Invalid (not a viewer id of this share, or the owner's own).
    """
    with transaction.atomic():
        share = _owned_share(user, share_id)
        member, address = viewer_id_read(share, viewer)
        if member == OWNER:
            raise Invalid(fields={"viewer": "The owner cannot be kicked."})
        publish(share.topic_key, "share.kicked", {"viewer": viewer})
        if member.startswith("u:"):
            kick_record(share, member)
            revoke(share.topic_key, user_id=int(member[2:]), close=True)
        else:
            kick_record(share, f"ip:{address}")
            revoke(share.topic_key, conn_id=member[2:], close=True)


def viewer_id(share: Share, member: str, address: str) -> str:
    """The opaque id of a presence member in the room summary: 16 characters of an HMAC of the
    share and the member, short because every `room.updated` lists up to 100 of them. What it
    stands for (the member and, for an anonymous one, its address, which must never reach the
    owner) is kept in the cache, on every process, for `viewer_id_read`."""
    digest = salted_hmac("shares.viewer", f"{share.token}:{member}").digest()[:12]
    viewer = base64.urlsafe_b64encode(digest).decode()
    remember_viewer(share, viewer, member, address if member.startswith("a:") else "")
    return viewer


def viewer_id_read(share: Share, viewer: str) -> tuple[str, str]:
    """(member, address) of a viewer id of this share, or Invalid."""
    found = recall_viewer(share, viewer)
    if found is None:
        raise Invalid(fields={"viewer": "Not a viewer of this share."})
    return found


# -- comments ---------------------------------------------------------------------------


def comment_create(
    *, token: str, user: User | None, address: str, message: str, name: str | None = None, role: str | None = None
) -> ShareComment:
    """A comment on a live share, by its owner or a viewer; publishes `comment.created {"comment": C}`.

    `role` is the role already authorised at join (the topic); REST callers pass None and
    the share's access rules (password) are the caller's. Raises NotFound (no live share),
    Forbidden (comments off), Unauthorized (anonymous comments off), RateLimited with
    `retry_after` (the share's slow mode, per viewer), Invalid (message 1..200 after
    trimming, name 1..40).
    """
    share = _live_share(token)
    is_owner = user is not None and user.pk == share.owner_id
    if not is_owner:
        if not share.allow_comments:
            raise Forbidden("Comments are off on this share.")
        if user is None and not share.allow_anonymous_comments:
            raise Unauthorized("Sign in to comment on this share.")
    subject = viewer_subject(user, address)
    wait = 0.0 if is_owner else slow_mode_wait(share, subject)
    if wait > 0:
        raise RateLimited("Slow mode is on; wait before commenting again.", fields={"retry_after": round(wait, 3)})
    text = clean_text(message, "message", maximum=COMMENT_MAX_LENGTH, minimum=1)
    if user is not None:
        # A display name may be longer (100) than a comment's name column (40).
        shown = user.shown_name[:COMMENT_NAME_MAX_LENGTH]
    else:
        shown = clean_text(name or "", "name", maximum=COMMENT_NAME_MAX_LENGTH) or ANONYMOUS_NAME
    comment = ShareComment(share=share, author=user, name=shown, message=text)
    with transaction.atomic():
        comment.save(force_insert=True)
        seq = publish(share.topic_key, "comment.created", {"comment": comment_data(comment)}, replayable=True)
        assert seq is not None
        ShareStreamItem.objects.create(share=share, seq=seq, kind=ShareStreamItem.Kind.COMMENT, object_id=comment.pk)
    if not is_owner:
        slow_mode_record(share, subject)
    return comment


def _comment_for_moderation(user: User, comment_id: int, share_id: int | None) -> ShareComment:
    comment = ShareComment.objects.select_for_update(of=("self",)).select_related("share").filter(pk=comment_id).first()
    if comment is None or (share_id is not None and comment.share_id != share_id):
        raise NotFound("No such comment.")
    if comment.share.owner_id != user.pk and not user.has_perm("shares.moderate_sharecomment"):
        raise NotFound("No such comment.")
    return comment


def comment_hide(*, user: User, comment_id: int, share_id: int | None = None) -> ShareComment:
    """Soft-hides a comment: the share's owner or a moderator. Publishes `comment.hidden {"id"}` and
    redacts the stored events that carried its text. Hiding a hidden comment changes nothing.
    Raises NotFound (no such comment on that share, or not theirs to moderate)."""
    with transaction.atomic():
        comment = _comment_for_moderation(user, comment_id, share_id)
        if comment.is_hidden:
            return comment
        comment.hidden_at, comment.hidden_by = timezone.now(), user
        comment.save(update_fields=["hidden_at", "hidden_by"])
        items = ShareStreamItem.objects.filter(
            share_id=comment.share_id, kind=ShareStreamItem.Kind.COMMENT, object_id=comment.pk
        )
        redact_items(comment.share, items, {"comment": comment_data(comment)})
        publish(comment.share.topic_key, "comment.hidden", {"id": comment.pk}, replayable=True)
    return comment


def comment_restore(*, user: User, comment_id: int, share_id: int | None = None) -> ShareComment:
    """Shows a hidden comment again: the share's owner or a moderator; publishes
    `comment.restored {"comment": C}`. Raises NotFound as `comment_hide`."""
    with transaction.atomic():
        comment = _comment_for_moderation(user, comment_id, share_id)
        if not comment.is_hidden:
            return comment
        comment.hidden_at, comment.hidden_by = None, None
        comment.save(update_fields=["hidden_at", "hidden_by"])
        seq = publish(comment.share.topic_key, "comment.restored", {"comment": comment_data(comment)}, replayable=True)
        assert seq is not None
        ShareStreamItem.objects.create(
            share_id=comment.share_id, seq=seq, kind=ShareStreamItem.Kind.COMMENT, object_id=comment.pk
        )
    return comment
