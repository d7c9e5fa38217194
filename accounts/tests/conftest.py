import pytest

from accounts.tests.factories import UserFactory


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # PBKDF2 at production strength costs ~0.7 s per user here; hashing itself is not under test.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def ann(db):
    return UserFactory(username="ann", display_name="Ann")


@pytest.fixture
def ben(db):
    return UserFactory(username="ben", display_name="Ben")


@pytest.fixture
def cat(db):
    return UserFactory(username="cat", display_name="Cat")


@pytest.fixture
def sent_signals():
    """Records every accounts signal sent during the test as (name, kwargs without `signal`)."""
    from accounts import signals

    sent: list[tuple[str, dict]] = []
    names = ["user_followed", "user_unfollowed", "friendship_formed", "friendship_ended"]
    receivers = {}
    for name in names:

        def receiver(sender, name=name, **kwargs):
            kwargs.pop("signal")
            sent.append((name, kwargs))

        receivers[name] = receiver
        getattr(signals, name).connect(receiver, weak=False)
    yield sent
    for name, receiver in receivers.items():
        getattr(signals, name).disconnect(receiver)
