from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse

handled: list[str] = []


async def unhandled(request: Request, exc: Exception) -> JSONResponse:
    handled.append(type(exc).__name__)  # it runs, but its response is never sent
    return JSONResponse({"title": "Internal Server Error", "status": 500}, status_code=500)


app = FastAPI()
app.add_exception_handler(Exception, unhandled)


@app.get("/export.csv")
async def export() -> StreamingResponse:
    async def rows() -> AsyncIterator[str]:
        yield "id,amount\n"
        yield "1,40\n"
        raise ConnectionError("the ledger went away mid-export")

    return StreamingResponse(rows(), media_type="text/csv")
