from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream
from starlette.types import ASGIApp, Message, Scope


@dataclass
class LiveResponse:
    status: int
    headers: dict[str, str]
    messages: MemoryObjectReceiveStream[Message]

    async def next_chunk(self) -> bytes:
        """Wait for the next body chunk; b"" once the body is complete."""
        try:
            message = await self.messages.receive()
        except anyio.EndOfStream:
            return b""
        return message.get("body", b"")


@asynccontextmanager
async def open_stream(
    app: ASGIApp, path: str, headers: dict[str, str] | None = None
) -> AsyncIterator[LiveResponse]:
    """GET `path` as a server would, handing over each message the moment it is sent."""
    send, messages = anyio.create_memory_object_stream[Message]()  # no buffer: a slow client
    disconnected = anyio.Event()
    request_sent = False

    async def receive() -> Message:
        nonlocal request_sent
        if not request_sent:
            request_sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await disconnected.wait()  # like a server: the next message is the client leaving
        return {"type": "http.disconnect"}

    async def run_app(scope: Scope) -> None:
        async with send:  # closed when the app returns: the reader sees the end
            await app(scope, receive, send.send)

    raw_headers = {"host": "test", **(headers or {})}
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in raw_headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("test", 80),
    }
    async with messages, anyio.create_task_group() as tasks:
        tasks.start_soon(run_app, scope)
        try:
            start = await messages.receive()
            headers_sent = {k.decode(): v.decode() for k, v in start["headers"]}
            yield LiveResponse(start["status"], headers_sent, messages)
        finally:
            disconnected.set()
            async for _ in messages:  # a server drops what is sent after the client left
                pass
