"""Server-rendered shares pages: shells with their first data; the rest comes over REST and /ws/.

Each view reads through selectors and hands the page's module its configuration as
JSON (`json_script`), so no user data is ever interpolated into JavaScript.
"""

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.urls import reverse

from accounts.auth import signed_in_user
from accounts.models import User
from accounts.selectors import user_public
from shares import selectors
from shares.models import Share
from shares.payloads import goal_data, reflection_data, share_data


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """The owner's goals, reflections and shares; each live share's viewers and comments."""
    user = signed_in_user(request)
    base_url = request.build_absolute_uri("/")
    config: dict[str, Any] = {
        "me": user_public(user),
        "csrf": get_token(request),
        "goals": [goal_data(goal) for goal in selectors.goal_list(user=user)],
        "reflections": [reflection_data(r) for r in selectors.reflection_list(user=user)[:20]],
        "shares": [share_data(share, base_url=base_url) for share in selectors.share_list(user=user)[:50]],
        "urls": {
            "goals": reverse("api-shares-goals"),
            "reflections": reverse("api-shares-reflections"),
            "shares": reverse("api-shares"),
        },
    }
    return render(request, "shares/dashboard.html", {"shares_config": config})


def shared_view(request: HttpRequest, token: str) -> HttpResponse:
    """The viewer page of a share link, for anyone holding it. An unknown, ended or expired
    link shows that the share has ended (404); a password share asks for its password
    before anything of it is shown (the join checks it)."""
    share = Share.objects.select_related("owner").filter(token=token).first()
    if share is None or not share.is_live:
        return render(request, "shares/ended.html", status=404)
    user = request.user if isinstance(request.user, User) else None
    is_owner = user is not None and user.pk == share.owner_id
    config = {
        "topic": share.topic_key,
        "token": share.token,
        "needs_password": share.kind == Share.Kind.PASSWORD and not is_owner,
        "signed_in": user is not None,
        "me": user_public(user) if user is not None else None,
    }
    title = share.title if not config["needs_password"] else "A shared view"
    return render(request, "shares/view.html", {"shares_config": config, "title": title})
