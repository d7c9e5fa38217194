"""Server-rendered pages of the accounts app."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts import selectors


def home(request: HttpRequest) -> HttpResponse:
    """What the project offers; signed-in users also see their friends."""
    friends = selectors.friends_of(request.user) if request.user.is_authenticated else None
    return render(request, "home.html", {"friends": friends})
