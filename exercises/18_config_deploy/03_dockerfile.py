"""Write the service's Dockerfile: two stages, the lock file, a non-root user, a healthcheck.

The Dockerfile below builds and runs, and it is wrong in most ways that matter in
production. Rewrite it. The project it builds holds `pyproject.toml`, `uv.lock` and the
package `app/`, whose `app/main.py` is the app at the bottom of this file. Nothing is built
here: the checks parse `DOCKERFILE` (keep this name; keep it a raw string) as Docker reads
it and cross-check it with `app` (keep this name).

Contract (the checks rely on every line; "the runtime" is the last stage, with what it
inherits when it starts FROM an earlier stage):
- It parses: known instructions, a FROM first (only ARG before it), stage names used once.
- It has two stages at least.
- Every base image (each FROM, and each image a COPY --from= or RUN --mount=from= names
  rather than a stage) is pinned to a tag other than `latest`, or to a digest (`scratch`
  needs neither).
- The dependencies are installed by `uv sync`, and every `uv sync` has `--locked` or
  `--frozen` and `--no-dev` (or UV_LOCKED / UV_FROZEN and UV_NO_DEV set to 1 in its stage).
- Before the first `uv sync`, nothing but `pyproject.toml` and `uv.lock` (and
  `.python-version`) comes from the build context, and both are in the folder it runs in
  (its WORKDIR), copied or bind-mounted; the code is copied from the context after it.
- The runtime neither contains uv nor runs it: not a uv image, no COPY from one, no file
  named uv or uvx copied in, no RUN calling uv or installing it.
- The runtime copies the environment uv sync made in a builder stage (`.venv` in its
  folder, or UV_PROJECT_ENVIRONMENT) with COPY --from=<stage>, to the very path it was
  made at; the CMD's program comes from its `bin` folder, put ahead of the base image's
  PATH with ENV PATH (or named by its full path).
- The runtime's last USER comes before its CMD, is not root (`root` or `0`; a `:group` does
  not matter) and exists: a numeric id, `nobody`, or a name a `useradd` or `adduser` in the
  runtime created.
- The runtime's CMD is in exec form (a JSON array) and runs `fastapi run` or `uvicorn`
  (`python -m ...` or a full path is fine), without --reload; the runtime has no ENTRYPOINT.
- The server listens on host 0.0.0.0 and on a port an EXPOSE declares. Unless given
  --host/--port, `fastapi run` listens on 0.0.0.0, port $PORT or 8000; `uvicorn` on
  127.0.0.1 (or $UVICORN_HOST), port 8000 (or $UVICORN_PORT), from the runtime's ENV.
- The runtime has a HEALTHCHECK whose CMD is in exec form and holds one http:// URL,
  written out, to 127.0.0.1 (or localhost) on the port the server listens on; the app
  answers a GET of its path with 200.
- No ENV or ARG whose name holds SECRET, PASSWORD, TOKEN or KEY (any case) is given a
  non-empty value, in any stage.
"""

from fastapi import FastAPI

# TODO: split the build into a builder stage that runs uv sync and a runtime stage that
# copies the environment it made.
# TODO: pin every image to a version, install from the lock file without dev dependencies
# before the code is copied, and keep the secret out of the image.
# TODO: run as a user of your own, with a CMD in exec form on 0.0.0.0, and add a HEALTHCHECK
# that asks /healthz.
DOCKERFILE = r"""FROM python:latest
WORKDIR /app
RUN pip install uv
COPY . .
RUN uv sync
ENV PATH="/app/.venv/bin:$PATH" SECRET_KEY=change-me
EXPOSE 8000
CMD fastapi dev app/main.py
"""

app = FastAPI()


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}
