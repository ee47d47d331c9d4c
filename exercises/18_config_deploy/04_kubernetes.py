"""Manifests that match the app: make this service's Kubernetes manifests fit to run.

The checks read `MANIFESTS` (keep this name) with `yaml.safe_load_all` and check it as data,
field by field; where a field names something of the app (a probe's path, a port) they check
it against `app` (keep this name) itself. Nothing is sent to a cluster.

Contract (the checks rely on every line):
- The app: `GET /healthz` (liveness) answers 200 `{"status": "ok"}` whenever the process can
  answer, and asks the database nothing. `GET /readyz` (readiness) asks the database once per
  request (`await database.ping()`, which returns a bool) and answers 200
  `{"status": "ready"}` when it answers True, 503 `{"status": "unavailable"}` when False.
  Routes take the database from the dependency `get_database` (keep this name): the checks
  override it with a database they switch off and on.
- `MANIFESTS` is a str of YAML documents, each a mapping with `apiVersion`, `kind` and
  `metadata.name`, all in one namespace (or none names one): one Deployment (`apps/v1`), one
  Service (`v1`), one PodDisruptionBudget (`policy/v1`), and the ConfigMaps the Deployment
  reads. No Secret: the Secret `shop-secrets` is made outside these files.
- The Deployment runs at least 2 replicas; its `spec.selector.matchLabels` are all among its
  pod template's labels; its pods run one container, whose image is pinned (a tag other than
  `latest`, or `@sha256:` and a digest).
- The container's `command` (and `args`), a list of strings, runs uvicorn with
  `--host 0.0.0.0`, `--port 8000` and `--timeout-graceful-shutdown N` (N > 0 seconds); its
  `ports` declare `containerPort: 8000`.
- `readinessProbe` and `livenessProbe` are `httpGet` probes on paths that are GET routes of
  `app`, on port 8000 (or the name the container's `ports` give it); readiness asks the path
  that checks the database, liveness one that does not.
- `resources.requests` and `resources.limits` each give `cpu` and `memory`; no request is
  above its limit.
- Configuration comes from a ConfigMap of `MANIFESTS` (`envFrom: configMapRef`, or
  `valueFrom: configMapKeyRef` naming a key of its `data`); secrets from the Secret
  (`valueFrom: secretKeyRef`). No env `value` and no ConfigMap key has a secret's name
  (holding PASSWORD, PASSWD, SECRET, TOKEN, CREDENTIAL, or ending in KEY), and no value holds
  a URL with a password (`scheme://user:password@host`).
- The pod runs as a non-root user: `securityContext.runAsNonRoot: true` and a `runAsUser`
  other than 0, on the pod or on the container (the container's own value wins).
- A preStop hook sleeps at least 1 second (`sleep: {seconds: N}`, or `exec` running
  `sleep N`), and `terminationGracePeriodSeconds` (30 when left out) is more than that
  sleep plus the `--timeout-graceful-shutdown` seconds.
- The Service's `selector` and the budget's `selector.matchLabels` are among the pod labels;
  every Service port's `targetPort` (its `port` when left out) is 8000 or the name the
  container's `ports` give it.
- The budget sets one of `minAvailable` and `maxUnavailable` (a number or a percentage,
  rounded up), so that at least one pod may be evicted and at least one always stays.
"""

from typing import Annotated

from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse


class Database:
    """Stands in for the service's database: `ping` says whether it answers."""

    async def ping(self) -> bool:
        return True


async def get_database() -> Database:
    return Database()


DatabaseDep = Annotated[Database, Depends(get_database)]

app = FastAPI()


# TODO: split this route in two: GET /healthz for liveness, which asks nothing, and GET
# /readyz for readiness, which pings the database.
@app.get("/health")
async def health(database: DatabaseDep) -> JSONResponse:
    if await database.ping():
        return JSONResponse({"status": "ok"})
    return JSONResponse({"status": "unavailable"}, status_code=503)


# TODO: make these manifests fit to run: replicas, a pinned image, probes on the app's
# routes, resources, a ConfigMap and the Secret, a non-root user, shutdown timing, a
# Service and a PodDisruptionBudget.
MANIFESTS = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
spec:
  replicas: 1
  selector:
    matchLabels:
      app: shop
  template:
    metadata:
      labels:
        app: shop
    spec:
      containers:
        - name: shop
          image: registry.example.com/shop:latest
          command: [uvicorn, app.main:app, --port, "8000"]
          ports:
            - containerPort: 8000
          env:
            - name: LOG_LEVEL
              value: info
            - name: DATABASE_PASSWORD
              value: change-me
"""
