"""Every write to users and follows."""

from django.contrib.auth.models import Group, Permission
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from rest_framework_simplejwt.tokens import RefreshToken

from accounts import signals
from accounts.models import DISPLAY_NAME_MAX_LENGTH, MODERATORS_GROUP, Follow, User
from config.errors import Conflict, Invalid, NotFound


def user_register(*, username: str, password: str, email: str = "", display_name: str = "") -> User:
    """Creates an active user with a hashed password; raises Invalid on a taken name or weak password."""
    username = username.strip()
    candidate = User(username=username, email=email.strip(), display_name=display_name.strip())
    try:
        candidate.full_clean(exclude=["password"])
        validate_password(password, user=candidate)
    except ValidationError as error:
        fields = getattr(error, "message_dict", None) or {"password": error.messages}
        raise Invalid(fields={name: " ".join(messages) for name, messages in fields.items()}) from None
    candidate.set_password(password)
    try:
        with transaction.atomic():
            candidate.save()
    except IntegrityError:
        raise Invalid(fields={"username": "A user with that username already exists."}) from None
    return candidate


def user_follow(*, follower: User, followee_id: int) -> Follow:
    """`follower` starts following `followee_id`.

    Sends `user_followed`, and `friendship_formed` when the follow is returned, after
    commit. Raises NotFound for an unknown or inactive user, Invalid for oneself and
    Conflict when already following.
    """
    if followee_id == follower.pk:
        raise Invalid("You cannot follow yourself.", fields={"user": "You cannot follow yourself."})
    followee = User.objects.filter(pk=followee_id, is_active=True).first()
    if followee is None:
        raise NotFound("No such user.")
    try:
        with transaction.atomic():
            _lock_pair(follower.pk, followee.pk)
            follow = Follow.objects.create(follower=follower, followee=followee)
            is_mutual = Follow.objects.filter(follower=followee, followee=follower).exists()
            transaction.on_commit(lambda: _announce_follow(follower, followee, is_mutual))
    except IntegrityError:
        raise Conflict("You already follow this user.") from None
    return follow


def user_unfollow(*, follower: User, followee_id: int) -> None:
    """`follower` stops following; sends `user_unfollowed` (and `friendship_ended`) after commit."""
    with transaction.atomic():
        _lock_pair(follower.pk, followee_id)
        deleted, _ = Follow.objects.filter(follower=follower, followee_id=followee_id).delete()
        if not deleted:
            raise NotFound("You do not follow this user.")
        followee = User.objects.get(pk=followee_id)
        was_mutual = Follow.objects.filter(follower=followee, followee=follower).exists()
        transaction.on_commit(lambda: _announce_unfollow(follower, followee, was_mutual))


def _lock_pair(a_id: int, b_id: int) -> None:
    # Two users following each other at once must not both miss the mutual follow.
    list(User.objects.select_for_update().filter(pk__in=[a_id, b_id]).order_by("pk").values_list("pk"))


def _announce_follow(follower: User, followee: User, is_mutual: bool) -> None:
    signals.user_followed.send(sender=Follow, follower=follower, followee=followee)
    if is_mutual:
        signals.friendship_formed.send(sender=Follow, user=follower, friend=followee)


def _announce_unfollow(follower: User, followee: User, was_mutual: bool) -> None:
    signals.user_unfollowed.send(sender=Follow, follower=follower, followee=followee)
    if was_mutual:
        signals.friendship_ended.send(sender=Follow, user=follower, friend=followee)


def user_update_profile(*, user: User, display_name: str | None = None) -> User:
    """Changes the user's own profile fields that were given (only `display_name` for now).

    Raises Invalid when the display name is longer than 100 characters.
    """
    if display_name is not None:
        display_name = display_name.strip()
        if len(display_name) > DISPLAY_NAME_MAX_LENGTH:
            message = f"At most {DISPLAY_NAME_MAX_LENGTH} characters."
            raise Invalid(fields={"display_name": message})
        user.display_name = display_name
        user.save(update_fields=["display_name"])
    return user


def token_pair_create(*, user: User) -> dict[str, str]:
    """A fresh SimpleJWT access and refresh token for `user`; the refresh token is recorded for blacklisting."""
    refresh = RefreshToken.for_user(user)
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


# Groups created in this migrate or flush run: every app that ensures the group after that
# (the next apps' post_migrate) adds its permissions too.
_created_groups: set[tuple[str, int]] = set()


def moderators_group_run_started() -> None:
    """A migrate run begins (pre_migrate): groups that exist now are the admins' to configure."""
    _created_groups.clear()


def moderators_group_ensure(*, permissions: list[tuple[str, str]], using: str = "default") -> Group:
    """The `moderators` group, created with these (app_label, codename) permissions when missing.

    Each app calls it after its migrations (e.g. after a database flush removed the group):
    the app that recreates the group and every app after it in the same process grant their
    permissions; a group that existed before is left as its admins configured it.
    """
    group, created = Group.objects.using(using).get_or_create(name=MODERATORS_GROUP)
    if created:
        _created_groups.add((using, group.pk))
    if (using, group.pk) in _created_groups:
        for app_label, codename in permissions:
            permission = (
                Permission.objects.using(using).filter(content_type__app_label=app_label, codename=codename).first()
            )
            if permission is not None:
                group.permissions.add(permission)
    return group
