from redis.asyncio import Redis
from token_bucket import CAPACITY, FULL_AFTER, REFILL_PER_SECOND


async def take_naively(redis: Redis, key: str, now: float) -> tuple[bool, float]:
    """The same arithmetic as `take`, without WATCH: read, decide, write."""
    stored = await redis.hmget(key, "tokens", "at")
    tokens, at = (float(v) for v in stored) if stored[0] else (CAPACITY, now)
    tokens = min(CAPACITY, tokens + max(0.0, now - at) * REFILL_PER_SECOND)
    allowed = tokens >= 1
    if allowed:
        tokens -= 1
    # another request may have read the same `tokens` while we decided
    await redis.hset(key, mapping={"tokens": repr(tokens), "at": repr(now)})
    await redis.expire(key, FULL_AFTER)
    return allowed, tokens
