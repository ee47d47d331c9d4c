import secrets

from redis.asyncio import Redis
from redis.exceptions import WatchError

LOCK_TTL_MS = 5_000  # a holder that crashes frees the lock after this long


async def acquire(redis: Redis, name: str) -> str | None:
    """A token that proves we hold the lock, or None when someone else does."""
    token = secrets.token_hex(16)
    if await redis.set(name, token, nx=True, px=LOCK_TTL_MS):
        return token
    return None


async def release(redis: Redis, name: str, token: str) -> bool:
    """Delete the lock only if it is still ours: it may have expired and gone to another."""
    async with redis.pipeline() as pipe:
        await pipe.watch(name)
        if await pipe.get(name) != token:
            return False
        pipe.multi()
        pipe.delete(name)
        try:
            await pipe.execute()  # refused if the lock changed hands since WATCH
        except WatchError:
            return False
    return True
