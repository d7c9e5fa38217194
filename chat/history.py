"""The recent messages a chat join reply carries, kept per channel in each process.

In a reconnect storm thousands of clients join the same channel within seconds, and each
reply carries the same last 50 messages: the query and 50 M built again for each is most
of what a join used to cost.
"""

import time
from dataclasses import dataclass
from typing import Any

from accounts.selectors import user_public_row, user_public_rows
from chat import selectors
from chat.payloads import message_data

# Past this age a copy is built again whatever the checks say: the bound for changes made
# outside the services (raw SQL, QuerySet.update()), which no event reports either.
COPY_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class _Copy:
    head: int
    made_at: float
    author_ids: tuple[int, ...]
    authors: frozenset[tuple[Any, ...]]
    messages: list[dict[str, Any]]


class RecentMessages:
    """A channel's last messages as M, from a copy while it is current, checked on every use.

    A copy is current while (1) the channel's stream head is the one read before the copy
    was made: every create, edit, delete and restore of a message appends to the channel's
    stream in the transaction that makes it (the services do, for REST, topics and admin
    actions alike), and (2) its authors' public rows (`USER_PUBLIC_FIELDS`) are unchanged: a
    rename changes U without an event, and a deleted user's messages go with the row. Both
    are read from the database, so a copy is never stale in any process and nothing needs
    invalidating: a hit costs one query for the authors (none for a channel without
    messages) instead of the messages query and 50 M built. Callers check membership first:
    a copy is shared by everyone allowed to read the channel.
    """

    # Channels kept per process; past it the oldest copy goes.
    MAX_CHANNELS = 1000

    def __init__(self) -> None:
        self._copies: dict[int, _Copy] = {}

    def get(self, *, channel_id: int, head: int | None) -> list[dict[str, Any]]:
        """The last messages, oldest first; `head` is the stream head read before any other
        state of this join (JoinContext.head), None to read them without keeping a copy.

        The list is shared: callers must not change it.
        """
        copy = self._copies.get(channel_id)
        if (
            head is not None
            and copy is not None
            and copy.head == head
            and time.monotonic() - copy.made_at < COPY_SECONDS
            and (not copy.author_ids or user_public_rows(copy.author_ids) == copy.authors)
        ):
            return copy.messages
        rows = selectors.message_list_latest(channel_id=channel_id)
        messages = [message_data(message) for message in rows]
        if head is not None:
            authors = {message.author_id: user_public_row(message.author) for message in rows}
            if len(self._copies) >= self.MAX_CHANNELS and channel_id not in self._copies:
                self._copies.pop(next(iter(self._copies)), None)
            self._copies[channel_id] = _Copy(
                head=head,
                made_at=time.monotonic(),
                author_ids=tuple(authors),
                authors=frozenset(authors.values()),
                messages=messages,
            )
        return messages


recent_messages = RecentMessages()
