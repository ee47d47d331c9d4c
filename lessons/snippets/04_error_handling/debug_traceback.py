from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


async def unhandled(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"title": "Internal Server Error", "status": 500}, status_code=500)


app = FastAPI(debug=True)  # never in production: the traceback goes to the client
app.add_exception_handler(Exception, unhandled)


@app.get("/boom")
async def boom() -> None:
    raise RuntimeError("password=hunter2 rejected by the ledger")
