import anyio
from starlette.types import ASGIApp, Message, Scope


async def serve_once(
    app: ASGIApp,
    path: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    client: tuple[str, int] = ("203.0.113.7", 50000),
    scheme: str = "http",
    root_path: str = "",
) -> list[Message]:
    """Call `app` once as a server would, and return every message it sends, in order."""
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": scheme,
        "path": root_path + path,  # a server puts the prefix in the path too
        "raw_path": (root_path + path).encode(),
        "query_string": b"",
        "root_path": root_path,
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
        "client": client,
        "server": ("10.0.0.5", 8000),
    }
    sent: list[Message] = []
    request_messages = [{"type": "http.request", "body": body, "more_body": False}]
    finished = anyio.Event()

    async def receive() -> Message:
        if request_messages:
            return request_messages.pop(0)
        await finished.wait()  # the client stays until the response is complete
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    try:
        await app(scope, receive, send)
    finally:
        finished.set()
    return sent
