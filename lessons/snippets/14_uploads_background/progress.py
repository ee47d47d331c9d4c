import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, TypedDict
from uuid import uuid4

import anyio
from anyio.abc import TaskGroup
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent

logger = logging.getLogger("imports")


@dataclass
class Job:
    total: int
    done: int = 0
    outcome: str | None = None  # "finished" or "failed" once the job has ended
    changed: anyio.Event = field(default_factory=anyio.Event)

    def update(self, done: int, outcome: str | None = None) -> None:
        self.done, self.outcome = done, outcome
        woken, self.changed = self.changed, anyio.Event()  # the next change gets a fresh one
        woken.set()


class State(TypedDict):
    jobs: dict[str, Job]
    tasks: TaskGroup


async def convert(row: int) -> None:
    await anyio.sleep(0.01)  # the slow part of a real import: parse, validate, write a row


async def run_import(job_id: str, job: Job, jobs: dict[str, Job]) -> None:
    try:
        for row in range(job.total):
            await convert(row)
            job.update(row + 1)
        job.update(job.done, "finished")
    except Exception:  # escaping, it would cancel the whole task group
        logger.exception("import %s failed", job_id)
    finally:
        if job.outcome is None:  # it raised, or the shutdown cancelled it
            job.update(job.done, "failed")
        del jobs[job_id]  # watchers hold the Job itself; the registry forgets it


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[State]:
    async with anyio.create_task_group() as tasks:
        yield {"jobs": {}, "tasks": tasks}
        tasks.cancel_scope.cancel()  # shutting down: jobs still running end as failed


async def get_jobs(request: Request) -> dict[str, Job]:
    return request.state.jobs


Jobs = Annotated[dict[str, Job], Depends(get_jobs)]


async def job_in_progress(job_id: str, jobs: Jobs) -> Job:
    if job_id not in jobs:
        raise HTTPException(404, "No import in progress")
    return jobs[job_id]


app = FastAPI(lifespan=lifespan)


@app.post("/imports", status_code=202)
async def start_import(
    rows: Annotated[int, Query(ge=1)], request: Request, jobs: Jobs
) -> dict[str, str]:
    job_id = uuid4().hex
    jobs[job_id] = job = Job(total=rows)
    request.state.tasks.start_soon(run_import, job_id, job, jobs)
    return {"id": job_id, "progress": f"/imports/{job_id}/progress"}


@app.get("/imports/{job_id}/progress", response_class=EventSourceResponse)
async def watch_import(
    job: Annotated[Job, Depends(job_in_progress)],
) -> AsyncIterator[ServerSentEvent]:
    while True:
        changed, outcome = job.changed, job.outcome  # read before the yield, not after it
        counts = {"done": job.done, "total": job.total}
        yield ServerSentEvent(event=outcome or "progress", id=str(job.done), data=counts)
        if outcome is not None:
            return
        await changed.wait()
