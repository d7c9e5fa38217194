"""Signals host code sends to notify users (README "Notifications" has an example of each).

Send them inside the transaction of the change they describe: the notification is
stored in that transaction (a rollback stores nothing) and pushed after commit.
"""

from django.dispatch import Signal

# user: the User who unlocked it; achievement: {"id", "name", "description"?}
achievement_unlocked = Signal()
# seller, buyer: Users; work: {"id", "title"}; price: a number or Decimal. Notifies the seller.
work_purchased = Signal()
# user: the assignee (notified); task: {"id", "title"}; by: the User who assigned it.
task_assigned = Signal()
# user: who completed it; task: {"id", "title"}; by: the User who assigned it (notified).
task_completed = Signal()
# user: the assignee; task: {"id", "title"}. Withdraws the unread assignment notification.
task_cancelled = Signal()
