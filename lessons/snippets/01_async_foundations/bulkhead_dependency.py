import threading
from typing import Annotated

from fastapi import Depends, FastAPI


class ReportClient:
    """A blocking client of a slow reporting service."""

    def fetch(self) -> dict[str, str]:
        return {"report": "ready", "thread": threading.current_thread().name}


def get_report(client: Annotated[ReportClient, Depends(ReportClient)]) -> dict[str, str]:
    return client.fetch()  # a def dependency: it runs on a worker thread of the shared pool


ReportDep = Annotated[dict[str, str], Depends(get_report, max_concurrency=2)]
app = FastAPI()


@app.get("/reports/daily")
async def daily(report: ReportDep) -> dict[str, str]:
    return report


@app.get("/reports/weekly")
async def weekly(report: ReportDep) -> dict[str, str]:  # the same alias: the same limit
    return report
