"""The `upload:<session_id>` topic (docs/protocol.md 4.4): the owner watches a session's progress.

No send events: bytes come over tus (HTTP), and the events (`progress`, `completed`,
`failed`, `cancelled`, all ephemeral) are published by the services and the progress
throttle. The join reply is P, the object the polling endpoint serves.
"""

from accounts.models import User
from config.errors import NotFound
from realtime.api import JoinContext, Joined, TopicHandler
from uploads import payloads, selectors


class UploadHandler(TopicHandler):
    prefix = "upload"

    def join(self, ctx: JoinContext) -> Joined:
        """The session's owner only: `unauthorized` when anonymous, `not_found` for anyone else."""
        argument = ctx.argument or ""
        if not argument.isdigit() or len(argument) > 18:
            raise NotFound("No such upload session.")
        user = ctx.require_user()
        assert isinstance(user, User)
        session = selectors.session_get_for_user(user=user, session_id=int(argument))
        return Joined(reply=payloads.session_progress(session))
