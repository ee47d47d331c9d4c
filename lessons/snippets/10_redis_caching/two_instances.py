from fakeredis import FakeAsyncRedis, FakeServer
from redis.asyncio import Redis


def two_instances(url: str | None) -> tuple[Redis, Redis]:
    """Two clients of one Redis, as two instances of an app would hold."""
    if url:
        return (
            Redis.from_url(url, decode_responses=True),
            Redis.from_url(url, decode_responses=True),
        )
    server = FakeServer()  # one in-process server that both clients talk to
    return (
        FakeAsyncRedis(server=server, decode_responses=True),
        FakeAsyncRedis(server=server, decode_responses=True),
    )
