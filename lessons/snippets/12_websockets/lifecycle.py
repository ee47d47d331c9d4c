"""One WebSocket from accept to disconnect, and what the handler sees on the way."""

from fastapi import FastAPI, WebSocket, WebSocketDisconnect

app = FastAPI()
seen: list[str] = []  # what the handlers noticed, for the page's tests


@app.websocket("/echo")
async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    try:
        while True:
            text = await websocket.receive_text()
            if text == "bye":
                await websocket.close(code=1000, reason="see you")
                seen.append("the server closed")
                return
            await websocket.send_text(text.upper())
    except WebSocketDisconnect as gone:
        seen.append(f"the client left with {gone.code}")


@app.websocket("/shout")
async def shout(websocket: WebSocket) -> None:
    await websocket.accept()
    async for text in websocket.iter_text():
        await websocket.send_text(text.upper())
    seen.append("iter_text ended")
