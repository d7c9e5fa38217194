"""Reads about users and their follows, shared by REST, pages and other apps."""

from django.db.models import Exists, OuterRef, QuerySet

from accounts.models import Follow, User


def are_friends(a: User | int, b: User | int) -> bool:
    """True when each of the two users follows the other."""
    a_id = a if isinstance(a, int) else a.pk
    b_id = b if isinstance(b, int) else b.pk
    if a_id == b_id:
        return False
    return Follow.objects.filter(follower_id=a_id, followee_id=b_id).exists() and Follow.objects.filter(
        follower_id=b_id, followee_id=a_id
    ).exists()


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


def followers_of(user: User) -> QuerySet[User]:
    return User.objects.filter(following_set__followee=user, is_active=True).order_by("username")


def following_of(user: User) -> QuerySet[User]:
    return User.objects.filter(follower_set__follower=user, is_active=True).order_by("username")


def user_list(*, viewer: User, search: str | None = None) -> QuerySet[User]:
    """Active users, optionally those whose username or display name starts with `search`.

    Annotated with whether the viewer follows them and they follow the viewer.
    """
    qs = User.objects.filter(is_active=True)
    if search:
        qs = qs.filter(username__istartswith=search) | qs.filter(display_name__istartswith=search)
    return qs.annotate(
        is_followed=Exists(Follow.objects.filter(follower=viewer, followee=OuterRef("pk"))),
        follows_you=Exists(Follow.objects.filter(follower=OuterRef("pk"), followee=viewer)),
    ).order_by("username")


def user_get(*, viewer: User, user_id: int) -> User | None:
    return user_list(viewer=viewer).filter(pk=user_id).first()
