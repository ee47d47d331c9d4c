"""Kubernetes manifests read as data, and checked against the app and its settings."""

from typing import Any

import yaml
from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import BaseModel
from pydantic_settings import BaseSettings

Manifest = dict[str, Any]


# --8<-- [start:load]
def load(text: str) -> dict[str, Manifest]:
    """Every document of a multi-document YAML text, by "Kind/name"."""
    return {f"{m['kind']}/{m['metadata']['name']}": m for m in yaml.safe_load_all(text) if m}


def pod(deployment: Manifest) -> Manifest:
    return deployment["spec"]["template"]["spec"]


# --8<-- [end:load]


# --8<-- [start:routes]
def get_paths(app: FastAPI) -> set[str]:
    return {r.path for r in app.routes if isinstance(r, APIRoute) and "GET" in r.methods}


def probe_problems(deployment: Manifest, app: FastAPI) -> list[str]:
    found = []
    for container in pod(deployment)["containers"]:
        ports = {port.get("name") for port in container["ports"]}
        ports |= {port["containerPort"] for port in container["ports"]}
        for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
            check = container.get(kind, {}).get("httpGet")
            if check is None:
                found.append(f"{container['name']}: no {kind}")
            elif check["path"] not in get_paths(app):
                found.append(f"{container['name']}: {kind} asks {check['path']}, not a route")
            elif check["port"] not in ports:
                found.append(f"{container['name']}: {kind} port {check['port']} is not declared")
    return found


# --8<-- [end:routes]


# --8<-- [start:env]
def env_names(settings: type[BaseSettings]) -> set[str]:
    """The variables the settings read: the prefix, the field, and `__` into nested models."""
    prefix = settings.model_config.get("env_prefix", "")
    names = set()
    for name, field in settings.model_fields.items():
        nested = field.annotation
        if isinstance(nested, type) and issubclass(nested, BaseModel):
            names |= {f"{prefix}{name}__{sub}".upper() for sub in nested.model_fields}
        else:
            names.add(f"{prefix}{name}".upper())
    return names


def env_problems(manifests: dict[str, Manifest], settings: type[BaseSettings]) -> list[str]:
    known = env_names(settings)
    found = []
    deployments = [m for m in manifests.values() if m["kind"] == "Deployment"]
    for container in (c for d in deployments for c in pod(d)["containers"]):
        for source in container.get("envFrom", []):
            config_map = manifests.get(f"ConfigMap/{source['configMapRef']['name']}")
            if config_map is None:
                found.append(f"no ConfigMap {source['configMapRef']['name']} in the file")
                continue
            found += [f"{key} is read by nothing" for key in config_map["data"] if key not in known]
        for variable in container.get("env", []):
            secret = variable.get("valueFrom", {}).get("secretKeyRef")
            if variable["name"] not in known:
                found.append(f"{variable['name']} is read by nothing")
            if secret and f"Secret/{secret['name']}" in manifests:
                found.append(f"Secret {secret['name']} is written in the file")
    return found


# --8<-- [end:env]
