"""How the core sees users, without importing the app that defines them.

The core only needs a user's primary key and how to show them (the protocol's `U`),
so it takes the function that builds `U` from the `REALTIME_USER_PUBLIC` setting (a
dotted path, e.g. `accounts.selectors.user_public`) instead of importing `accounts`.
"""

from collections.abc import Callable
from functools import cache
from typing import Any, Protocol

from django.conf import settings
from django.utils.module_loading import import_string


class UserLike(Protocol):
    """What the core relies on of a user object (Django's user model satisfies it)."""

    pk: Any
    is_active: bool


@cache
def _user_public() -> Callable[[Any], dict[str, Any]]:
    path = getattr(settings, "REALTIME_USER_PUBLIC", None)
    if path is None:
        return lambda user: {"id": user.pk, "username": user.get_username()}
    function: Callable[[Any], dict[str, Any]] = import_string(path)
    return function


def user_public(user: Any) -> dict[str, Any]:
    """The protocol's `U` for a user, as the project's REALTIME_USER_PUBLIC function builds it."""
    return _user_public()(user)
