import pytest


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
