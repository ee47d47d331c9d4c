import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

logger = logging.getLogger("bank.sync")


def unhandled(request: Request, exc: Exception) -> JSONResponse:  # def: runs in a worker thread
    logger.exception("unhandled error on %s", request.url.path)  # which exception? none here
    return JSONResponse({"title": "Internal Server Error", "status": 500}, status_code=500)


app = FastAPI()
app.add_exception_handler(Exception, unhandled)


@app.get("/boom")
async def boom() -> None:
    raise RuntimeError("the ledger is down")
