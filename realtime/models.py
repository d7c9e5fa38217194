from django.db import models
from django.utils import timezone


class Stream(models.Model):
    """The last `seq` handed out for one topic; the row lock serialises writers."""

    topic = models.CharField(max_length=160, primary_key=True)
    last_seq = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.topic} @ {self.last_seq}"


class StreamEvent(models.Model):
    """One replayable event, kept as the exact frame sent live so a replay is byte-identical."""

    topic = models.CharField(max_length=160)
    seq = models.BigIntegerField()
    event = models.CharField(max_length=64)
    frame = models.TextField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["topic", "seq"], name="stream_event_unique_seq")]

    def __str__(self) -> str:
        return f"{self.topic}#{self.seq} {self.event}"
