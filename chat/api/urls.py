from django.urls import path

from chat.api import views
from config import api  # noqa: F401 (registers the <id:...> converter)

urlpatterns = [
    path("channels/", views.ChannelListApi.as_view(), name="api-chat-channels"),
    path("channels/<id:channel_id>/", views.ChannelDetailApi.as_view(), name="api-chat-channel"),
    path("channels/<id:channel_id>/join/", views.ChannelJoinApi.as_view(), name="api-chat-channel-join"),
    path("channels/<id:channel_id>/leave/", views.ChannelLeaveApi.as_view(), name="api-chat-channel-leave"),
    path("channels/<id:channel_id>/members/", views.ChannelMemberListApi.as_view(), name="api-chat-members"),
    path(
        "channels/<id:channel_id>/members/<id:user_id>/",
        views.ChannelMemberDetailApi.as_view(),
        name="api-chat-member",
    ),
    path("channels/<id:channel_id>/messages/", views.ChannelMessageListApi.as_view(), name="api-chat-messages"),
    path("channels/<id:channel_id>/read/", views.ChannelReadApi.as_view(), name="api-chat-channel-read"),
    path("messages/<id:message_id>/", views.MessageDetailApi.as_view(), name="api-chat-message"),
    path("conversations/", views.ConversationListApi.as_view(), name="api-chat-conversations"),
    path("dm/<id:user_id>/messages/", views.DirectMessageListApi.as_view(), name="api-chat-dm-messages"),
    path("dm/<id:user_id>/read/", views.DirectMessageReadApi.as_view(), name="api-chat-dm-read"),
    path("dm/messages/<id:message_id>/", views.DirectMessageDetailApi.as_view(), name="api-chat-dm-message"),
]
