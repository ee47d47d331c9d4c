import anyio
from asgi_stream import open_stream
from sse_feed import Feed, app, get_feed


async def test_resumes_after_last_event_id() -> None:
    feed = Feed()
    for text in ("opening", "first goal"):
        feed.publish(text)
    app.dependency_overrides[get_feed] = lambda: feed
    try:
        with anyio.fail_after(5):  # a hang guard, not a timing assertion
            async with open_stream(app, "/notices", {"Last-Event-ID": "1"}) as response:
                assert response.status == 200
                assert await response.next_chunk() == (
                    b'event: notice\ndata: {"id":2,"text":"first goal"}\nid: 2\n\n'
                )
                feed.publish("second goal")  # the generator waits for exactly this
                assert b"id: 3\n" in await response.next_chunk()
    finally:
        app.dependency_overrides.clear()
