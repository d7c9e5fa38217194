from django.urls import path

from chat.api import views

urlpatterns = [
    path("channels/", views.ChannelListApi.as_view(), name="api-chat-channels"),
    path("channels/<int:channel_id>/", views.ChannelDetailApi.as_view(), name="api-chat-channel"),
    path("channels/<int:channel_id>/join/", views.ChannelJoinApi.as_view(), name="api-chat-channel-join"),
    path("channels/<int:channel_id>/leave/", views.ChannelLeaveApi.as_view(), name="api-chat-channel-leave"),
    path("channels/<int:channel_id>/members/", views.ChannelMemberListApi.as_view(), name="api-chat-members"),
    path(
        "channels/<int:channel_id>/members/<int:user_id>/",
        views.ChannelMemberDetailApi.as_view(),
        name="api-chat-member",
    ),
    path("channels/<int:channel_id>/messages/", views.ChannelMessageListApi.as_view(), name="api-chat-messages"),
    path("channels/<int:channel_id>/read/", views.ChannelReadApi.as_view(), name="api-chat-channel-read"),
    path("messages/<int:message_id>/", views.MessageDetailApi.as_view(), name="api-chat-message"),
    path("conversations/", views.ConversationListApi.as_view(), name="api-chat-conversations"),
    path("dm/<int:user_id>/messages/", views.DirectMessageListApi.as_view(), name="api-chat-dm-messages"),
    path("dm/<int:user_id>/read/", views.DirectMessageReadApi.as_view(), name="api-chat-dm-read"),
    path("dm/messages/<int:message_id>/", views.DirectMessageDetailApi.as_view(), name="api-chat-dm-message"),
    path("unread/", views.UnreadApi.as_view(), name="api-chat-unread"),
]
