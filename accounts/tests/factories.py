import factory
from factory.django import DjangoModelFactory

from accounts.models import Follow, User

DEFAULT_PASSWORD = "correct-horse-battery-42"


class UserFactory(DjangoModelFactory):
    """A user whose raw password is kept on `user.raw_password` (hashed in the database via set_password)."""

    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    display_name = factory.LazyAttribute(lambda user: user.username.title())

    @factory.post_generation
    def password(user: User, create: bool, extracted: str | None, **kwargs: object) -> None:
        user.raw_password = extracted or DEFAULT_PASSWORD
        user.set_password(user.raw_password)
        if create:
            user.save(update_fields=["password"])


class FollowFactory(DjangoModelFactory):
    """A follow row written directly, for setting up state; tests of behaviour go through services."""

    class Meta:
        model = Follow

    follower = factory.SubFactory(UserFactory)
    followee = factory.SubFactory(UserFactory)


def make_friends(a: User, b: User) -> None:
    """Friendship is a mutual follow."""
    FollowFactory(follower=a, followee=b)
    FollowFactory(follower=b, followee=a)
