import time
from collections.abc import Awaitable, Callable
from typing import Literal, TypeVar

import httpx

T = TypeVar("T")
State = Literal["closed", "open", "half_open"]


class UpstreamError(Exception):
    """The upstream answered, with a 5xx: a failure, like a transport error."""


class CircuitOpenError(Exception):
    def __init__(self, retry_after: float) -> None:
        super().__init__(f"circuit open, retry in {retry_after:g} s")
        self.retry_after = retry_after


class CircuitBreaker:
    def __init__(
        self,
        failure_threshold: int = 5,
        reset_timeout: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        failure_types: tuple[type[BaseException], ...] = (httpx.TransportError, UpstreamError),
    ) -> None:
        self.failure_threshold, self.reset_timeout = failure_threshold, reset_timeout
        self.clock, self.failure_types = clock, failure_types
        self.failures = 0  # consecutive, while closed
        self.opened_at: float | None = None
        self.trial = False  # a half-open trial call is in flight

    @property
    def state(self) -> State:
        if self.opened_at is None:
            return "closed"
        if self.trial or self.clock() >= self.opened_at + self.reset_timeout:
            return "half_open"
        return "open"

    async def call(self, fn: Callable[..., Awaitable[T]], *args: object) -> T:
        trial = False
        if self.opened_at is not None:
            left = self.opened_at + self.reset_timeout - self.clock()
            if left > 0 or self.trial:
                raise CircuitOpenError(max(left, 0.0))  # fn is not called at all
            self.trial = trial = True  # this caller is the one trial of the half-open state
        try:
            result = await fn(*args)
        except self.failure_types:
            self._failed(trial)
            raise
        except BaseException:
            if trial:
                self.trial = False  # not a verdict on the upstream: the next caller tries
            raise
        self._succeeded(trial)
        return result

    def _failed(self, trial: bool) -> None:
        if trial:
            self.trial, self.opened_at = False, self.clock()  # open again, from now
        elif self.opened_at is None:
            self.failures += 1
            if self.failures >= self.failure_threshold:
                self.failures, self.opened_at = 0, self.clock()

    def _succeeded(self, trial: bool) -> None:
        if trial:
            self.trial, self.opened_at = False, None
        if self.opened_at is None:
            self.failures = 0
