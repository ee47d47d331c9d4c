"""Feature flags, started and stopped by on_event handlers: migrate them to one lifespan.

FastAPI still runs `@app.on_event` handlers, but only with a DeprecationWarning, and only
when the app has no lifespan: give it one and every on_event handler left behind is
silently skipped. The handlers below also cannot clean up after each other: when one
fails, nothing undoes what the earlier ones opened. Move all of it into one lifespan.

The contract (the checks rely on it):
- `create_app()` (keep this name) builds a new app each time it is called, and opens
  nothing while building: the resources are opened by the app's lifespan.
- `Database`, `Heartbeat` and `EVENTS` (keep them as given): use these classes for the
  resources; `EVENTS` is what they did, in order. The checks may make any of their
  methods raise, to see what the app does then.
- Start-up, in this order: connect a new `Database`, load the flags from it, start a new
  `Heartbeat`. Shutdown, in this order: stop the heartbeat, disconnect the database. So a
  run that serves requests leaves exactly these EVENTS: "database connected", "flags
  loaded", "heartbeat started", "heartbeat stopped", "database disconnected".
- When a start-up step raises, the app does not start: that exception reaches the server
  as it was raised, and each resource already opened is closed again, newest first. The
  step that failed is not undone and no later step runs (if loading the flags fails, the
  EVENTS are "database connected", "database disconnected"; if connecting fails, none).
- When stopping the heartbeat raises at shutdown, the database is still disconnected,
  and the heartbeat's exception reaches the server.
- `GET /flags/{name}` answers 200 {"name": name, "enabled": true|false} for a flag
  loaded at start-up, and counts one lookup; any other name answers 404
  {"detail": "unknown flag"} and counts nothing.
- `GET /stats` answers 200 {"lookups": N}: the lookups counted by this app since its
  latest start-up (0 at each start-up, also when the same app is started again). Each
  start-up of each app opens its own resources and its own count. The checks serve the
  app as Uvicorn does: each request sees a shallow copy of the lifespan's state.
- The code no longer uses `on_event`, `add_event_handler`, `on_startup`/`on_shutdown`
  or `app.state` (the checks read the code: comments and docstrings may still name
  them), and building and running the app emits no warning.
"""

from fastapi import APIRouter, FastAPI, HTTPException, Request
from pydantic import BaseModel

# --- the resources (given: do not edit) -----------------------------------------------

EVENTS: list[str] = []  # what the resources did, in order


class Database:
    """A driver with the connect/disconnect API of older database libraries."""

    async def connect(self) -> None:
        EVENTS.append("database connected")

    async def disconnect(self) -> None:
        EVENTS.append("database disconnected")

    async def load_flags(self) -> dict[str, bool]:
        EVENTS.append("flags loaded")
        return {"dark_mode": True, "new_checkout": False}


class Heartbeat:
    """Tells the load balancer that the app is alive, from start() until stop()."""

    def start(self) -> None:
        EVENTS.append("heartbeat started")

    def stop(self) -> None:
        EVENTS.append("heartbeat stopped")


# --- the app --------------------------------------------------------------------------


class Flag(BaseModel):
    name: str
    enabled: bool


router = APIRouter()


# TODO: Read the flags and the lookup count from the lifespan's state (request.state).
@router.get("/flags/{name}")
async def read_flag(name: str, request: Request) -> Flag:
    state = request.app.state
    if name not in state.flags:
        raise HTTPException(404, "unknown flag")
    state.lookups += 1
    return Flag(name=name, enabled=state.flags[name])


@router.get("/stats")
async def read_stats(request: Request) -> dict[str, int]:
    return {"lookups": request.app.state.lookups}


def create_app() -> FastAPI:
    # TODO: Replace these handlers with one lifespan that yields what the routes need.
    # TODO: Make a failed step close what was opened before it, newest first.
    app = FastAPI()

    @app.on_event("startup")
    async def connect_database() -> None:
        app.state.database = Database()
        await app.state.database.connect()

    @app.on_event("startup")
    async def load_flags() -> None:
        app.state.flags = await app.state.database.load_flags()
        app.state.lookups = 0

    @app.on_event("startup")
    def start_heartbeat() -> None:
        app.state.heartbeat = Heartbeat()
        app.state.heartbeat.start()

    @app.on_event("shutdown")
    def stop_heartbeat() -> None:
        app.state.heartbeat.stop()

    @app.on_event("shutdown")
    async def disconnect_database() -> None:
        await app.state.database.disconnect()

    app.include_router(router)
    return app
