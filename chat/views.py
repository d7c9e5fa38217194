"""Server-rendered chat pages: shells with their first data; the rest comes over REST and /ws/.

Each view reads through selectors and hands the page's script its configuration as
JSON (`json_script`), so no user data is ever interpolated into JavaScript.
"""

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from accounts.auth import signed_in_user
from accounts.models import User
from accounts.selectors import are_friends, friends_of, user_public
from chat import selectors
from chat.payloads import channel_data
from config.errors import NotFound
from realtime.api import online_user_ids, unread_for_user


def _sidebar(user: User) -> dict[str, Any]:
    """The channel list with unread counts and the friend list with online dots and unread counts."""
    unread = unread_for_user(user=user)
    unread_channels = unread["channels"]
    channels = [
        {"id": channel.pk, "name": channel.name, "unread": unread_channels.get(str(channel.pk), 0)}
        for channel in selectors.channel_list_for_user(user=user, joined=True)
    ]
    friends = list(friends_of(user))
    online = online_user_ids(friend.pk for friend in friends)
    unread_dms = unread["dms_by_user"]
    friend_rows = [
        {
            "id": friend.pk,
            "username": friend.username,
            "shown_name": friend.shown_name,
            "online": friend.pk in online,
            "unread": unread_dms.get(str(friend.pk), 0),
        }
        for friend in friends
    ]
    return {"channels": channels, "friends": friend_rows}


def _config(request: HttpRequest, mode: str, **extra: Any) -> dict[str, Any]:
    return {
        "mode": mode,
        "me": user_public(signed_in_user(request)),
        **extra,
        "urls": {
            "dm_base": reverse("chat:index") + "dm/",
            "conversations": reverse("api-chat-conversations"),
            "cursor_param": "before",
            **extra.get("urls", {}),
        },
    }


@login_required
def chat_index(request: HttpRequest) -> HttpResponse:
    """The user's channels and friends, and public channels they could join."""
    user = signed_in_user(request)
    context = _sidebar(user)
    context["public_channels"] = selectors.channel_list_for_user(user=user, joined=False, archived=False)
    context["mode"] = "index"
    context["chat_config"] = _config(request, "index")
    return render(request, "chat/index.html", context)


@login_required
def channel_detail(request: HttpRequest, channel_id: int) -> HttpResponse:
    """One channel; 404 for a private channel the user does not belong to. Opening a
    public channel joins it (the page's WebSocket join does, through the service)."""
    user = signed_in_user(request)
    try:
        channel = selectors.channel_get_for_user(user=user, channel_id=channel_id)
    except NotFound as error:
        raise Http404(error.message) from error
    context = _sidebar(user)
    if not any(item["id"] == channel.pk for item in context["channels"]):
        context["channels"].append({"id": channel.pk, "name": channel.name, "unread": 0})
    context.update(
        mode="channel",
        channel=channel,
        placeholder=f"Message #{channel.name}",
        chat_config=_config(
            request,
            "channel",
            channel=channel_data(channel),
            urls={"history": reverse("api-chat-messages", args=[channel.pk])},
        ),
    )
    return render(request, "chat/channel.html", context)


@login_required
def dm_detail(request: HttpRequest, username: str) -> HttpResponse:
    """The conversation with another user. A non-friend's page still renders, saying that
    direct messages are for friends; the server refuses the sends with a visible error."""
    user = signed_in_user(request)
    peer = User.objects.filter(username=username, is_active=True).exclude(pk=user.pk).first()
    if peer is None:
        raise Http404("No such user.")
    context = _sidebar(user)
    context.update(
        mode="dm",
        peer=peer,
        peer_online=peer.pk in online_user_ids([peer.pk]),
        is_friend=are_friends(user, peer),
        placeholder=f"Message {peer.shown_name}",
        chat_config=_config(
            request,
            "dm",
            peer=user_public(peer),
            urls={"history": reverse("api-chat-dm-messages", args=[peer.pk])},
        ),
    )
    return render(request, "chat/dm.html", context)
