"""The owner's goals, progress entries and reflections, each write published on the shares it reaches."""

from datetime import date
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from config.errors import Invalid, NotFound
from shares.models import (
    GOAL_DESCRIPTION_MAX_LENGTH,
    GOAL_TITLE_MAX_LENGTH,
    GOAL_UNIT_MAX_LENGTH,
    NOTE_MAX_LENGTH,
    REFLECTION_MAX_LENGTH,
    Goal,
    ProgressEntry,
    Reflection,
    Share,
    ShareStreamItem,
)
from shares.payloads import entry_data, goal_data, reflection_data
from shares.services.common import (
    clean_text,
    live_shares,
    owned_goal,
    parse_decimal,
    publish_for_goal,
    publish_on_share,
    redact_items,
)
from shares.signals import goal_reached

_UNSET: Any = object()


def _goal_event(goal: Goal) -> Any:
    return lambda share: ({"type": "goal", "goal": goal_data(goal)}, ShareStreamItem.Kind.GOAL, None)


def _check_reached(goal: Goal) -> bool:
    """Marks an active goal that reached its target as done; True the first time it does."""
    if goal.target is None or goal.current < goal.target or goal.status != Goal.Status.ACTIVE:
        return False
    goal.status = Goal.Status.DONE
    if goal.reached_at is not None:
        return False
    goal.reached_at = timezone.now()
    return True


def _announce_reached(goal: Goal) -> None:
    transaction.on_commit(lambda: goal_reached.send(sender=Goal, goal=goal), robust=True)


def goal_create(
    *,
    user: User,
    title: str,
    description: str = "",
    unit: str = "",
    target: Any = None,
    due_date: date | None = None,
) -> Goal:
    """Creates a goal of `user`; published as `{"type": "goal"}` on the shares showing all goals.

    Raises Invalid (title 1..120 after trimming, description, unit, target not a positive number).
    """
    goal = Goal(
        owner=user,
        title=clean_text(title, "title", maximum=GOAL_TITLE_MAX_LENGTH, minimum=1),
        description=clean_text(description, "description", maximum=GOAL_DESCRIPTION_MAX_LENGTH),
        unit=clean_text(unit, "unit", maximum=GOAL_UNIT_MAX_LENGTH),
        target=None if target is None else _target(target),
        due_date=due_date,
    )
    with transaction.atomic():
        goal.save(force_insert=True)
        publish_for_goal(goal, _goal_event(goal))
    return goal


def _target(value: Any) -> Decimal:
    target = parse_decimal(value, "target")
    if target <= 0:
        raise Invalid(fields={"target": "Must be greater than 0."})
    return target


def goal_update(
    *,
    user: User,
    goal_id: int,
    title: str = _UNSET,
    description: str = _UNSET,
    unit: str = _UNSET,
    target: Any = _UNSET,
    due_date: date | None = _UNSET,
    status: str = _UNSET,
) -> Goal:
    """Changes the owner's goal (only the fields given); one `{"type": "goal"}` on each share showing it.

    Lowering the target to the current value makes an active goal done (and sends
    `goal_reached` the first time). Raises NotFound (not theirs), Invalid.
    """
    with transaction.atomic():
        goal = owned_goal(user.pk, goal_id, lock=True)
        if title is not _UNSET:
            goal.title = clean_text(title, "title", maximum=GOAL_TITLE_MAX_LENGTH, minimum=1)
        if description is not _UNSET:
            goal.description = clean_text(description, "description", maximum=GOAL_DESCRIPTION_MAX_LENGTH)
        if unit is not _UNSET:
            goal.unit = clean_text(unit, "unit", maximum=GOAL_UNIT_MAX_LENGTH)
        if target is not _UNSET:
            goal.target = None if target is None else _target(target)
        if due_date is not _UNSET:
            goal.due_date = due_date
        if status is not _UNSET:
            if status not in Goal.Status.values:
                raise Invalid(fields={"status": f"One of {', '.join(Goal.Status.values)}."})
            goal.status = status
        reached = _check_reached(goal)
        goal.updated_at = timezone.now()
        goal.save(
            update_fields=["title", "description", "unit", "target", "due_date", "status", "reached_at", "updated_at"]
        )
        publish_for_goal(goal, _goal_event(goal))
        if reached:
            _announce_reached(goal)
    return goal


def goal_delete(*, user: User, goal_id: int) -> None:
    """Deletes the owner's goal with its entries; `{"type": "goal.removed"}` on each share showing it,
    whose stored events about the goal are redacted to that. Raises NotFound."""
    with transaction.atomic():
        goal = owned_goal(user.pk, goal_id, lock=True)
        removed = {"type": "goal.removed", "goal_id": goal.pk}
        for share in live_shares(user.pk):
            items = list(ShareStreamItem.objects.filter(share=share, goal=goal))
            if items or share.all_goals or goal in share.goals.all():
                redact_items(share, items, removed)
                publish_on_share(share, removed, kind=ShareStreamItem.Kind.GOAL)
        goal.delete()


def progress_record(*, user: User, goal_id: int, value: Any = None, delta: Any = None, note: str = "") -> ProgressEntry:
    """Records progress on the owner's goal: the new `value`, or a `delta` to add (exactly one).

    Moves the goal's current value; reaching the target makes an active goal done and
    sends `goal_reached` (after commit, the first time only). Publishes one
    `{"type": "progress", "goal": G, "entry": P}` on each live share showing the goal
    (`{"type": "goal", "goal": G}` where the share hides progress entries). Raises
    NotFound (not their goal), Invalid.
    """
    if (value is None) == (delta is None):
        raise Invalid(fields={"value": "Give either value or delta."})
    note = clean_text(note, "note", maximum=NOTE_MAX_LENGTH)
    with transaction.atomic():
        goal = owned_goal(user.pk, goal_id, lock=True)
        if value is not None:
            new_value = parse_decimal(value, "value")
            change = new_value - goal.current
        else:
            change = parse_decimal(delta, "delta")
            new_value = parse_decimal(goal.current + change, "delta")
        entry = ProgressEntry.objects.create(goal=goal, value=new_value, delta=change, note=note)
        goal.current = new_value
        reached = _check_reached(goal)
        goal.updated_at = entry.created_at
        goal.save(update_fields=["current", "status", "reached_at", "updated_at"])

        def build(share: Share) -> tuple[dict[str, Any], str, int | None]:
            if not share.show_progress:
                return {"type": "goal", "goal": goal_data(goal)}, ShareStreamItem.Kind.GOAL, None
            payload = {"type": "progress", "goal": goal_data(goal), "entry": entry_data(entry)}
            return payload, ShareStreamItem.Kind.PROGRESS, entry.pk

        publish_for_goal(goal, build)
        if reached:
            _announce_reached(goal)
    return entry


def reflection_create(*, user: User, text: str) -> Reflection:
    """Writes a reflection; `{"type": "reflection"}` on the owner's live shares that show reflections.

    Raises Invalid (text 1..2000 after trimming).
    """
    reflection = Reflection(owner=user, text=clean_text(text, "text", maximum=REFLECTION_MAX_LENGTH, minimum=1))
    with transaction.atomic():
        reflection.save(force_insert=True)
        payload = {"type": "reflection", "reflection": reflection_data(reflection)}
        for share in live_shares(user.pk):
            if share.show_reflections:
                publish_on_share(share, payload, kind=ShareStreamItem.Kind.REFLECTION, object_id=reflection.pk)
    return reflection


def reflection_delete(*, user: User, reflection_id: int) -> None:
    """Deletes the owner's reflection: `{"type": "reflection.removed", "reflection_id"}` on the shares
    that showed it, whose stored events carrying its text are redacted to that. Raises NotFound."""
    with transaction.atomic():
        reflection = Reflection.objects.select_for_update().filter(pk=reflection_id, owner=user).first()
        if reflection is None:
            raise NotFound("No such reflection.")
        removed = {"type": "reflection.removed", "reflection_id": reflection.pk}
        for share in live_shares(user.pk):
            items = ShareStreamItem.objects.filter(
                share=share, kind=ShareStreamItem.Kind.REFLECTION, object_id=reflection.pk
            )
            redact_items(share, items, removed)
            if share.show_reflections:
                publish_on_share(share, removed, kind=ShareStreamItem.Kind.REFLECTION, object_id=reflection.pk)
        reflection.delete()
