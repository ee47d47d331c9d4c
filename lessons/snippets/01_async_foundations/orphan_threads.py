import asyncio
import contextlib
import threading

import anyio

release = threading.Event()  # the test sets it: until then every call hangs
running = 0  # calls running in a worker thread right now


def hanging_call() -> None:
    global running
    running += 1
    release.wait(5.0)
    running -= 1


async def asyncio_timeout(limiter: anyio.CapacityLimiter) -> None:
    with contextlib.suppress(TimeoutError):  # the await gives up and returns the token...
        await asyncio.wait_for(anyio.to_thread.run_sync(hanging_call, limiter=limiter), 0.05)
    # ... and the thread keeps running


async def anyio_timeout(limiter: anyio.CapacityLimiter) -> bool:
    with anyio.move_on_after(0.05) as scope:  # run_sync shields a running thread from it
        await anyio.to_thread.run_sync(hanging_call, limiter=limiter)
    return scope.cancelled_caught


async def abandoned(limiter: anyio.CapacityLimiter) -> None:
    with anyio.move_on_after(0.05):
        await anyio.to_thread.run_sync(hanging_call, limiter=limiter, abandon_on_cancel=True)
