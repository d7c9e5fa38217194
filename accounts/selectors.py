"""Reads about users and their follows, shared by REST, pages and other apps."""

from collections.abc import Iterable
from typing import Any

from django.db import connection
from django.db.models import Exists, F, OuterRef, Q, QuerySet

from accounts.models import MODERATORS_GROUP, Follow, User

# The columns `user_public` reads, and nothing else: a copy of U is current while these are.
USER_PUBLIC_FIELDS = ("id", "username", "display_name")


def user_public(user: User) -> dict[str, Any]:
    """The public user object `U` of the protocol: id, username, display_name (never email)."""
    return {"id": user.pk, "username": user.username, "display_name": user.display_name}


def user_public_row(user: User) -> tuple[Any, ...]:
    """The values of USER_PUBLIC_FIELDS of a loaded user, as `user_public_rows` gives them."""
    return tuple(getattr(user, name) for name in USER_PUBLIC_FIELDS)


def user_public_rows(user_ids: Iterable[int]) -> frozenset[tuple[Any, ...]]:
    """The USER_PUBLIC_FIELDS values of each of these users that exists, in one query.

    For checking that copies of their U are current (a rename changes it). Raw SQL: the ORM
    took longer to compile the query than the database to answer it.
    """
    ids = sorted(set(user_ids))
    if not ids:
        return frozenset()
    quote = connection.ops.quote_name
    column_of = {field.name: str(field.column) for field in User._meta.concrete_fields}
    columns = ", ".join(quote(column_of[name]) for name in USER_PUBLIC_FIELDS)
    table, pk = quote(User._meta.db_table), quote(column_of["id"])
    placeholders = ", ".join(["%s"] * len(ids))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {columns} FROM {table} WHERE {pk} IN ({placeholders})", ids)  # noqa: S608 (names only)
        return frozenset(tuple(row) for row in cursor.fetchall())


def are_friends(a: User | int, b: User | int) -> bool:
    """True when each of the two users follows the other."""
    a_id = a if isinstance(a, int) else a.pk
    b_id = b if isinstance(b, int) else b.pk
    if a_id == b_id:
        return False
    return (
        Follow.objects.filter(follower_id=a_id, followee_id=b_id).exists()
        and Follow.objects.filter(follower_id=b_id, followee_id=a_id).exists()
    )


def friends_of(user: User | int) -> QuerySet[User]:
    """Users who follow `user` and whom `user` follows back, by username."""
    user_id = user if isinstance(user, int) else user.pk
    return (
        User.objects.filter(following_set__followee_id=user_id, follower_set__follower_id=user_id, is_active=True)
        .order_by("username")
        .distinct()
    )


def friend_ids_of(user: User | int) -> set[int]:
    return set(friends_of(user).values_list("id", flat=True))


def friend_ids_of_many(user_ids: Iterable[int]) -> dict[int, set[int]]:
    """Each of these users' friends (the ids `friend_ids_of` gives), in one query."""
    friends: dict[int, set[int]] = {user_id: set() for user_id in user_ids}
    follows = Follow.objects.filter(
        follower_id__in=friends,
        followee__is_active=True,
        followee__following_set__followee_id=F("follower_id"),  # followed back
    ).values_list("follower_id", "followee_id")
    for user_id, friend_id in follows:
        friends[user_id].add(friend_id)
    return friends


def followers_of(user: User) -> QuerySet[User]:
    return User.objects.filter(following_set__followee=user, is_active=True).order_by("username")


def following_of(user: User) -> QuerySet[User]:
    return User.objects.filter(follower_set__follower=user, is_active=True).order_by("username")


def _with_relationship(qs: QuerySet[User], *, viewer: User) -> QuerySet[User]:
    # One query for the page: the three flags are subqueries, not a query per row.
    return qs.annotate(
        is_followed=Exists(Follow.objects.filter(follower=viewer, followee=OuterRef("pk"))),
        follows_you=Exists(Follow.objects.filter(follower=OuterRef("pk"), followee=viewer)),
    ).annotate(is_friend=Q(is_followed=True) & Q(follows_you=True))


def user_list(*, viewer: User, search: str | None = None) -> QuerySet[User]:
    """Active users, optionally those whose username or display name starts with `search`.

    Annotated with `is_followed` (the viewer follows them), `follows_you` and
    `is_friend` (both), ordered by username.
    """
    qs = User.objects.filter(is_active=True)
    if search:
        qs = qs.filter(Q(username__istartswith=search) | Q(display_name__istartswith=search))
    return _with_relationship(qs, viewer=viewer).order_by("username")


def user_get(*, viewer: User, user_id: int) -> User | None:
    """One active user annotated like `user_list`, or None when there is no such active user."""
    return user_list(viewer=viewer).filter(pk=user_id).first()


def user_list_friends(*, viewer: User) -> QuerySet[User]:
    """The viewer's friends (mutual follows), annotated like `user_list`."""
    return _with_relationship(friends_of(viewer), viewer=viewer)


def user_list_followers(*, viewer: User) -> QuerySet[User]:
    """Active users following the viewer, annotated like `user_list`."""
    return _with_relationship(followers_of(viewer), viewer=viewer)


def user_list_following(*, viewer: User) -> QuerySet[User]:
    """Active users the viewer follows, annotated like `user_list`."""
    return _with_relationship(following_of(viewer), viewer=viewer)


def is_moderator(user: User) -> bool:
    """Superusers and active members of the `moderators` group (read fresh, not from a cache)."""
    if not user.is_active:
        return False
    return user.is_superuser or user.groups.filter(name=MODERATORS_GROUP).exists()
