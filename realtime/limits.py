"""Per-connection limits: a token bucket for frames and a window of protocol errors."""

import math
import time


class TokenBucket:
    """`burst` frames at once, refilled at `refill` frames per second."""

    __slots__ = ("burst", "refill", "tokens", "updated_at")

    def __init__(self, burst: int, refill: float) -> None:
        self.burst = burst
        self.refill = refill
        self.tokens = float(burst)
        self.updated_at = time.monotonic()

    def _top_up(self) -> None:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.updated_at) * self.refill)
        self.updated_at = now

    def take(self) -> bool:
        self._top_up()
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False

    def retry_after(self) -> float:
        """Seconds until one frame is allowed again, rounded up to milliseconds."""
        self._top_up()
        return math.ceil(max(0.0, 1 - self.tokens) / self.refill * 1000) / 1000


class ErrorWindow:
    """Counts errors in a sliding window; `hit()` is True once more than `limit` fell within it."""

    __slots__ = ("limit", "seconds", "times")

    def __init__(self, *, limit: int, seconds: float) -> None:
        self.limit = limit
        self.seconds = seconds
        # A list, not a deque: it never holds more than limit + 1 times (the connection is
        # closed then), and every connection has one (an empty deque is 600 bytes).
        self.times: list[float] = []

    def hit(self) -> bool:
        now = time.monotonic()
        self.times.append(now)
        while now - self.times[0] > self.seconds:
            del self.times[0]
        return len(self.times) > self.limit
