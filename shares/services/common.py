"""What the shares services share: which shares a write reaches, publishing and redaction there,
and the per-share limits kept in the cache (password attempts, kicks, slow mode)."""

import math
import time
from collections.abc import Callable, Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.cache import cache
from django.db.models import Q, QuerySet
from django.utils import timezone

from config.errors import Invalid, NotFound, RateLimited
from realtime.api import publish, rewrite
from shares.models import DECIMAL_PLACES, MAX_DIGITS, Goal, Share, ShareStreamItem

PASSWORD_ATTEMPTS = 5
PASSWORD_WINDOW = 600  # seconds: 5 wrong passwords per share and address within this, then refused
KICK_SECONDS = 600  # a kicked viewer cannot rejoin the share for this long

Payload = dict[str, Any]


def live_shares(owner_id: int) -> QuerySet[Share]:
    """The owner's shares whose link works now (active and not expired), with their chosen goals."""
    return (
        Share.objects.filter(owner_id=owner_id, is_active=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))
        .prefetch_related("goals")
        .order_by("pk")
    )


def share_covers(share: Share, goal_id: int) -> bool:
    return share.all_goals or any(goal.pk == goal_id for goal in share.goals.all())


def publish_on_share(
    share: Share, payload: Payload, *, kind: str, goal: Goal | None = None, object_id: int | None = None
) -> int:
    """One replayable `progress.updated` (or other event) on the share's topic, remembered for redaction."""
    seq = publish(share.topic_key, "progress.updated", payload, replayable=True)
    assert seq is not None
    ShareStreamItem.objects.create(share=share, seq=seq, kind=kind, goal=goal, object_id=object_id)
    return seq


def publish_for_goal(goal: Goal, build: Callable[[Share], tuple[Payload, str, int | None]]) -> None:
    """Publishes, on every live share of the goal's owner whose scope includes it, what `build(share)`
    returns: (payload, kind of the stream item, object id)."""
    for share in live_shares(goal.owner_id):
        if share_covers(share, goal.pk):
            payload, kind, object_id = build(share)
            publish_on_share(share, payload, kind=kind, goal=goal, object_id=object_id)


def redact_items(share: Share, items: Iterable[ShareStreamItem], payload: Payload) -> None:
    """Rewrites the stored events of `items` (on the share's stream) to `payload`."""
    seqs = [item.seq for item in items]
    if seqs:
        rewrite(share.topic_key, seqs, payload)


def parse_decimal(value: Any, field: str, *, minimum: Decimal | None = None) -> Decimal:
    """A number within what the goal columns hold, or Invalid naming `field`."""
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise Invalid(fields={field: "Must be a number."}) from None
    if not number.is_finite():
        raise Invalid(fields={field: "Must be a number."})
    number = number.quantize(Decimal(1).scaleb(-DECIMAL_PLACES))
    if abs(number) >= Decimal(10) ** (MAX_DIGITS - DECIMAL_PLACES):
        raise Invalid(fields={field: f"At most {MAX_DIGITS - DECIMAL_PLACES} digits before the point."})
    if minimum is not None and number < minimum:
        raise Invalid(fields={field: f"Must be at least {minimum}."})
    return number


def clean_text(value: str, field: str, *, maximum: int, minimum: int = 0) -> str:
    value = value.strip()
    if not minimum <= len(value) <= maximum:
        message = f"Must be {minimum} to {maximum} characters." if minimum else f"At most {maximum} characters."
        raise Invalid(fields={field: message})
    return value


def owned_goal(owner_id: int, goal_id: int, *, lock: bool = False) -> Goal:
    """The owner's goal, or NotFound (someone else's goal is not found either)."""
    qs = Goal.objects.filter(pk=goal_id, owner_id=owner_id)
    if lock:
        qs = qs.select_for_update()
    goal = qs.first()
    if goal is None:
        raise NotFound("No such goal.")
    return goal


# -- limits in the cache (shared by every process when the cache is Redis) -----------


def _window_key(kind: str, share: Share, subject: str) -> str:
    # By token, not id: ids are reused after a database flush, tokens never are.
    return f"shares:{kind}:{share.token}:{subject}"


def password_check_allowed(share: Share, address: str) -> None:
    """RateLimited (with `retry_after`) while this address is locked out of this share."""
    state = cache.get(_window_key("pw", share, address))
    now = time.time()
    if state and state[0] >= PASSWORD_ATTEMPTS and state[1] > now:
        raise RateLimited(
            "Too many wrong passwords; try again later.", fields={"retry_after": math.ceil(state[1] - now)}
        )


def password_failed(share: Share, address: str) -> None:
    """Counts a wrong password for the address; the window starts at the first wrong one."""
    key = _window_key("pw", share, address)
    now = time.time()
    state = cache.get(key)
    if not state or state[1] <= now:
        state = (0, now + PASSWORD_WINDOW)
    state = (state[0] + 1, state[1])
    cache.set(key, state, timeout=math.ceil(state[1] - now))


def kick_record(share: Share, subject: str) -> None:
    cache.set(_window_key("kick", share, subject), time.time() + KICK_SECONDS, timeout=KICK_SECONDS)


def is_kicked(share: Share, subject: str) -> bool:
    until = cache.get(_window_key("kick", share, subject))
    return until is not None and until > time.time()


VIEWER_ID_SECONDS = 7 * 86400  # a viewer id stays readable this long after its last join


def remember_viewer(share: Share, viewer: str, member: str, address: str) -> None:
    cache.set(_window_key("viewer", share, viewer), (member, address), timeout=VIEWER_ID_SECONDS)


def recall_viewer(share: Share, viewer: str) -> tuple[str, str] | None:
    found = cache.get(_window_key("viewer", share, viewer))
    return None if found is None else (str(found[0]), str(found[1]))


def slow_mode_wait(share: Share, subject: str) -> float:
    """Seconds this viewer must still wait before commenting again (0: may comment)."""
    if share.comment_interval <= 0:
        return 0.0
    last = cache.get(_window_key("slow", share, subject))
    return 0.0 if last is None else max(0.0, last + share.comment_interval - time.time())


def slow_mode_record(share: Share, subject: str) -> None:
    if share.comment_interval > 0:
        cache.set(_window_key("slow", share, subject), time.time(), timeout=share.comment_interval)
