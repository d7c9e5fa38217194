"""The signed-in user of a request, typed: views that require sign-in see a `User`, never
`AnonymousUser` (DRF's IsAuthenticated default permission and the admin's staff check
have already refused everyone else)."""

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from rest_framework.request import Request

from accounts.models import User


class AuthenticatedRequest(Request):
    """A DRF request of a view behind IsAuthenticated."""

    user: User


def signed_in_user(request: HttpRequest | Request) -> User:
    """The user of a request that must be signed in (admin actions, login_required pages)."""
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied("Sign in first.")
    return user
