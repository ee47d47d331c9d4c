"""The service and its Kubernetes manifests: probes, ports and shutdown timing that match."""

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


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    # liveness asks nothing of the database: restarting this pod would not bring it back
    return {"status": "ok"}


@app.get("/readyz")
async def readyz(database: DatabaseDep) -> JSONResponse:
    if await database.ping():
        return JSONResponse({"status": "ready"})
    return JSONResponse({"status": "unavailable"}, status_code=503)


# Shutdown timing: the preStop sleep (5 s) lets the endpoints drop the pod before SIGTERM,
# uvicorn then drains for at most 25 s, and the 40 s grace period outlasts both (5 + 25).
# The Secret shop-secrets is made outside these files, by whoever holds its values.
MANIFESTS = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: shop-config
data:
  LOG_LEVEL: info
  DATABASE_HOST: postgres.shop.svc
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
spec:
  replicas: 3
  selector:
    matchLabels:
      app: shop
  template:
    metadata:
      labels:
        app: shop
        tier: api
    spec:
      terminationGracePeriodSeconds: 40
      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
      containers:
        - name: shop
          image: registry.example.com/shop:1.4.2
          command: [uvicorn, app.main:app, --host, 0.0.0.0, --port, "8000",
                    --timeout-graceful-shutdown, "25"]
          ports:
            - name: http
              containerPort: 8000
          envFrom:
            - configMapRef:
                name: shop-config
          env:
            - name: DATABASE_PASSWORD
              valueFrom:
                secretKeyRef:
                  name: shop-secrets
                  key: database-password
          readinessProbe:
            httpGet:
              path: /readyz
              port: http
            periodSeconds: 5
          livenessProbe:
            httpGet:
              path: /healthz
              port: http
            periodSeconds: 10
            failureThreshold: 3
          lifecycle:
            preStop:
              sleep:
                seconds: 5
          resources:
            requests:
              cpu: 250m
              memory: 256Mi
            limits:
              cpu: "1"
              memory: 512Mi
---
apiVersion: v1
kind: Service
metadata:
  name: shop
spec:
  selector:
    app: shop
  ports:
    - name: http
      port: 80
      targetPort: http
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: shop
spec:
  minAvailable: 2
  selector:
    matchLabels:
      app: shop
"""
