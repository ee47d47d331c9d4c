from typing import Any

import anyio


async def trace(app: Any, path: str, log: list[str], method: str = "GET") -> None:
    """Call an ASGI app as a server would, and write to `log` each message it sends."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"test")],
        "client": ("127.0.0.1", 50000),
        "server": ("test", 80),
    }
    requested = False
    disconnected = anyio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await disconnected.wait()  # a server has nothing more until the client leaves
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            log.append(f"send status {message['status']}")
        elif message.get("body"):
            log.append(f"send body {message['body'].decode()!r}")
        elif not message.get("more_body", False):
            log.append("send end of body")

    await app(scope, receive, send)
    disconnected.set()
