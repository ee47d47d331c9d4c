import time

from fastapi import FastAPI

REPORT_SECONDS = 2.0

app = FastAPI()


@app.get("/report/blocking")
async def blocking_report() -> dict[str, str]:
    time.sleep(REPORT_SECONDS)  # noqa: ASYNC251 -- the bug: the whole loop sleeps
    return {"report": "ready"}


@app.get("/report/threadpool")
def threadpool_report() -> dict[str, str]:
    time.sleep(REPORT_SECONDS)  # fine: only this worker thread sleeps
    return {"report": "ready"}


@app.get("/ping")
async def ping() -> dict[str, str]:
    return {"ping": "pong"}
