"""Hidden suite for 18_config_deploy/04_kubernetes: manifests that match the app.

`MANIFESTS` is read with `yaml.safe_load_all` and checked as data, field by field, never
grepped and never sent to a cluster. Where a field names something of the app (a probe's
path, a port) it is checked against the app itself: its `app.routes`, and what those paths
answer while a fake database, handed in by overriding `get_database`, is up or down.
Kubernetes' own defaults apply where a field is left out (a Service's targetPort is its port;
the grace period is 30 s).
"""

import math
import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from types import ModuleType
from typing import Any

import pytest
import yaml
from starlette.routing import Route

from workbook.testing import (
    Failure,
    expect,
    expect_equal,
    expect_json,
    expect_status,
    provide,
    running,
)

PORT = 8000
DEFAULT_GRACE = 30  # seconds: Kubernetes' terminationGracePeriodSeconds when it is left out
KINDS = {"Deployment": "apps/v1", "Service": "v1", "PodDisruptionBudget": "policy/v1"}
CONTAINER = "spec.template.spec.containers[0]"
POD = "spec.template.spec"
SECRET_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|CREDENTIAL|KEY$", re.IGNORECASE)
CREDENTIALS_IN_URL = re.compile(r"://[^/\s:@]+:[^/\s@]+@")
SLEEP = re.compile(r"(?:^|[\s/])sleep\s+(\d+)s?(?:\s|$|;)")
QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")
UNITS = {"m": Decimal("0.001"), "k": Decimal(10**3), "M": Decimal(10**6), "G": Decimal(10**9)}
UNITS |= {"T": Decimal(10**12), "P": Decimal(10**15), "E": Decimal(10**18)}
UNITS |= {f"{p}i": Decimal(1024 ** (n + 1)) for n, p in enumerate("KMGTPE")}
STUB_PARSES = pytest.mark.stub_may_pass("the stub's manifests are valid YAML from the start")
STUB_GIVES = pytest.mark.stub_may_pass("the stub's Deployment has this right from the start")
MISSING = object()

ONE_DOCUMENT = (
    "Are the documents separated by a line holding only ---, each a mapping with apiVersion, "
    "kind and metadata.name?"
)
SHELL = (
    "Is the command one shell string (sh -c ...)? Give the arguments one per item, exec form: "
    "the flags are read from the list, and SIGTERM then reaches the server itself."
)
PROBE_ROUTE = (
    "Does the probe's httpGet.path name a route the app serves with GET, spelled exactly as "
    "in the app? A probe on a path the app does not serve fails on every pod."
)
PROBE_PORT = (
    "Does httpGet.port give the container's port, as the number 8000 or as the name that "
    "the container's ports list gives it?"
)
LIVENESS = (
    "Does the liveness probe ask a path that checks the database? When the database is "
    "down, the kubelet would restart every pod, and a restart cannot fix the database."
)
READINESS = (
    "Does the readiness probe ask the path that pings the database? A pod that cannot reach "
    "it must be taken out of the Service until it can."
)
HEALTHZ = (
    "Does /healthz ask the database? Liveness answers whether the process can answer at "
    "all: it takes no dependency and pings nothing."
)
READYZ = (
    "Does /readyz await database.ping() on every request, and answer 503 when it returns "
    "False? A remembered answer says nothing about the database now."
)
HOST = (
    "uvicorn listens on 127.0.0.1 unless told otherwise, and the kubelet's probes and the "
    "Service come from outside the container: is --host 0.0.0.0 in the command?"
)
NON_ROOT = (
    "Is runAsNonRoot: true set in the pod's (or the container's) securityContext, with "
    "runAsUser a user id other than 0? The kubelet checks a number, not a user name."
)
GRACE = (
    "The kubelet counts the grace period from the moment it runs the preStop hook: it must "
    "cover the sleep and the server's whole graceful shutdown, with time to spare."
)
DRAIN = (
    "With minAvailable equal to replicas (or maxUnavailable 0) no pod may ever be evicted, "
    "and a node drain waits forever: is one pod allowed to go at a time?"
)
KEEPS_ONE = (
    "A budget that lets every pod go at once protects nothing: is minAvailable at least 1 "
    "(or maxUnavailable below replicas)?"
)
SECRET_HELP = (
    "Secrets come from a Secret made outside these files (valueFrom.secretKeyRef): is a "
    "password, token or key written in an env value, a ConfigMap, or a Secret document?"
)
SELECTS = (
    "Are the selector's labels all among the labels of the Deployment's pod template "
    "(spec.template.metadata.labels), spelled the same?"
)


Doc = dict[str, Any]


class FakeDatabase:
    """A database the checks switch off and on; counts the pings it answers."""

    def __init__(self) -> None:
        self.up = True
        self.pings = 0

    async def ping(self) -> bool:
        self.pings += 1
        return self.up


def where(doc: Doc, path: str) -> str:
    metadata = doc.get("metadata") or {}
    return f"{doc.get('kind')}/{metadata.get('name')} {path}"


def dig(doc: Any, path: str) -> Any:
    """The value at a dotted path such as `spec.template.spec.containers[0].image`."""
    value = doc
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        if part.startswith("["):
            index = int(part[1:-1])
            if not isinstance(value, list) or index >= len(value):
                return MISSING
            value = value[index]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            return MISSING
    return value


def show(value: Any) -> str:
    return "missing" if value is MISSING else repr(value)


def expect_field(
    doc: Doc, path: str, ok: Callable[[Any], bool], wanted: str, *, help: str | None = None
) -> Any:
    """Fail with ``expected <Kind/name path> <wanted>, not <value>`` unless ``ok(value)``."""
    value = dig(doc, path)
    if value is MISSING or not ok(value):
        raise Failure(f"expected {where(doc, path)} {wanted}, not {show(value)}", help=help)
    return value


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def listed(doc: Any, path: str) -> list[Any]:
    """The list at `path`, or an empty one when there is none."""
    value = dig(doc, path)
    return value if isinstance(value, list) else []


def is_labels(value: Any) -> bool:
    return isinstance(value, dict) and bool(value)


def documents(module: ModuleType) -> list[Doc]:
    loaded = list(yaml.safe_load_all(module.MANIFESTS))
    return [doc for doc in loaded if doc is not None]


def the(docs: list[Doc], kind: str) -> Doc:
    return next(doc for doc in docs if doc.get("kind") == kind)


@pytest.fixture(scope="module")
def docs(exercise: ModuleType) -> list[Doc]:
    return documents(exercise)


@pytest.fixture(scope="module")
def deployment(docs: list[Doc]) -> Doc:
    return the(docs, "Deployment")


@pytest.fixture(scope="module")
def container(deployment: Doc) -> Doc:
    return dig(deployment, CONTAINER)


@pytest.fixture
def database(exercise: ModuleType) -> Iterator[FakeDatabase]:
    fake = FakeDatabase()
    overrides = exercise.app.dependency_overrides
    overrides[exercise.get_database] = provide(fake)
    yield fake
    overrides.pop(exercise.get_database, None)


def pod_labels(deployment: Doc) -> dict[str, Any]:
    labels = dig(deployment, "spec.template.metadata.labels")
    return labels if isinstance(labels, dict) else {}


def expect_selects(doc: Doc, path: str, deployment: Doc) -> None:
    expect_field(doc, path, is_labels, "to be a mapping of one or more labels")
    labels, selector = pod_labels(deployment), dig(doc, path)
    wrong = {key: value for key, value in selector.items() if labels.get(key) != value}
    expect(
        not wrong,
        f"expected {where(doc, path)} to be among the pod labels {labels}, not {wrong}",
        help=SELECTS,
    )


def command(deployment: Doc) -> list[str]:
    """The container's command and args together: the server's argv."""
    argv: list[str] = []
    for part in ("command", "args"):
        value = dig(deployment, f"{CONTAINER}.{part}")
        if value is MISSING:
            continue
        expect_field(
            deployment,
            f"{CONTAINER}.{part}",
            lambda v: isinstance(v, list) and all(isinstance(item, str) for item in v),
            "to be a list of strings (exec form)",
            help='Is a number in the list left bare? YAML reads 8000 as a number: "8000".',
        )
        argv += value
    return argv


def flag(deployment: Doc, name: str, help: str | None = None) -> str:
    """The value the command gives a flag (`--port 8000` or `--port=8000`)."""
    argv = command(deployment)
    for index, token in enumerate(argv):
        if token == name and index + 1 < len(argv):
            return argv[index + 1]
        if token.startswith(f"{name}="):
            return token.partition("=")[2]
    shell = "-c" in argv
    raise Failure(
        f"expected {where(deployment, CONTAINER + '.command')} to give {name}, not {argv}",
        help=SHELL if shell else help,
    )


def number_flag(deployment: Doc, name: str) -> int:
    value = flag(deployment, name)
    expect(
        value.isdigit() and int(value) > 0,
        f"expected {name} in {where(deployment, CONTAINER + '.command')} to be a positive "
        f"number of seconds, not {value!r}",
    )
    return int(value)


def names_the_port(container: Doc, port: Any) -> bool:
    """`port` is the container's port 8000, by number or by the name its ports list gives."""
    if is_int(port):
        return port == PORT
    ports = [p for p in listed(container, "ports") if isinstance(p, dict)]
    return any(p.get("name") == port and p.get("containerPort") == PORT for p in ports)


def get_routes(app: Any) -> list[str]:
    return sorted(
        route.path
        for route in app.routes
        if isinstance(route, Route) and route.methods and "GET" in route.methods
    )


def shown_routes(app: Any) -> list[str]:
    """The app's GET routes but its documentation's, which no probe should ask."""
    docs = {app.openapi_url, app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url}
    return [path for path in get_routes(app) if path not in docs]


def prestop_sleep(deployment: Doc) -> int:
    hook = dig(deployment, f"{CONTAINER}.lifecycle.preStop")
    seconds = dig(hook, "sleep.seconds")
    if is_int(seconds):
        return seconds
    argv = dig(hook, "exec.command")
    if isinstance(argv, list):
        found = SLEEP.search(" ".join(str(token) for token in argv))
        if found:
            return int(found.group(1))
    return 0


def quantity(doc: Doc, path: str) -> Decimal:
    value = expect_field(
        doc,
        path,
        lambda v: not isinstance(v, bool) and QUANTITY.fullmatch(str(v)) is not None,
        "to be a quantity (250m, 0.5, 512Mi)",
    )
    number, unit = QUANTITY.fullmatch(str(value)).groups()  # type: ignore[union-attr]
    return Decimal(number) * UNITS.get(unit or "", Decimal(1))


def budget_pods(value: Any, replicas: int) -> int | None:
    """A PDB's minAvailable or maxUnavailable as a number of pods (percentages round up)."""
    if is_int(value):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d+%", value):
        return math.ceil(replicas * int(value[:-1]) / 100)
    return None


# the documents ----------------------------------------------------------------------------


@STUB_PARSES
def test_the_manifests_parse(exercise: ModuleType) -> None:
    """MANIFESTS is YAML: documents, each with apiVersion, kind and metadata.name"""
    manifests = getattr(exercise, "MANIFESTS", None)
    expect(
        isinstance(manifests, str),
        f"expected MANIFESTS to be a str, not {type(manifests).__name__}",
    )
    try:
        docs = documents(exercise)
    except yaml.YAMLError as exc:
        raise Failure(f"MANIFESTS is not valid YAML: {exc}", help=ONE_DOCUMENT) from None
    expect(docs, "MANIFESTS holds no document", help=ONE_DOCUMENT)
    for number, doc in enumerate(docs, 1):
        expect(
            isinstance(doc, dict)
            and isinstance(doc.get("apiVersion"), str)
            and isinstance(doc.get("kind"), str)
            and isinstance(dig(doc, "metadata.name"), str),
            f"expected document {number} of MANIFESTS to be a mapping with apiVersion, kind "
            f"and metadata.name, not {doc!r:.120}",
            help=ONE_DOCUMENT,
        )


def expect_one(docs: list[Doc], kind: str) -> None:
    found = [doc for doc in docs if doc["kind"] == kind]
    expect_equal(f"number of {kind} documents in MANIFESTS", 1, len(found))
    version = KINDS[kind]
    expect_field(found[0], "apiVersion", lambda v: v == version, f"to be {version!r}")


@STUB_GIVES
@pytest.mark.requires("test_the_manifests_parse")
def test_one_deployment(docs: list[Doc]) -> None:
    """MANIFESTS holds one Deployment (apps/v1)"""
    expect_one(docs, "Deployment")


@pytest.mark.requires("test_the_manifests_parse")
def test_one_service(docs: list[Doc]) -> None:
    """MANIFESTS holds one Service (v1)"""
    expect_one(docs, "Service")


@pytest.mark.requires("test_the_manifests_parse")
def test_one_budget(docs: list[Doc]) -> None:
    """MANIFESTS holds one PodDisruptionBudget (policy/v1)"""
    expect_one(docs, "PodDisruptionBudget")


@STUB_GIVES
@pytest.mark.requires("test_one_deployment")
def test_one_container(deployment: Doc) -> None:
    """the Deployment's pods run one container, the app"""
    expect_field(
        deployment,
        f"{POD}.containers",
        lambda v: isinstance(v, list) and len(v) == 1 and isinstance(v[0], dict),
        "to list one container",
    )


@STUB_GIVES
@pytest.mark.requires("test_the_manifests_parse")
def test_one_namespace(docs: list[Doc]) -> None:
    """every document lives in the same namespace"""
    spaces = {where(doc, "metadata.namespace"): dig(doc, "metadata.namespace") for doc in docs}
    shown = ", ".join(f"{path} {show(space)}" for path, space in spaces.items())
    expect(
        len({show(space) for space in spaces.values()}) <= 1,
        f"expected one namespace for every document, not {shown}",
        help="A Service or a budget selects pods of its own namespace only: does every "
        "document name the same metadata.namespace, or none of them one?",
    )


# the Deployment ---------------------------------------------------------------------------


@pytest.mark.requires("test_one_container")
def test_at_least_two_replicas(deployment: Doc) -> None:
    """the Deployment runs at least two replicas"""
    expect_field(
        deployment,
        "spec.replicas",
        lambda v: is_int(v) and v >= 2,
        "to be at least 2",
        help="One replica means downtime at every rollout and every node drain; left out, "
        "replicas is 1.",
    )


@STUB_GIVES
@pytest.mark.requires("test_one_container")
def test_the_selector_matches_the_pod_labels(deployment: Doc) -> None:
    """the Deployment's selector.matchLabels are among its pod template's labels"""
    expect_selects(deployment, "spec.selector.matchLabels", deployment)


@pytest.mark.requires("test_one_container")
def test_the_image_is_pinned(deployment: Doc) -> None:
    """the image is pinned: a tag other than latest, or a digest"""
    image = expect_field(
        deployment, f"{CONTAINER}.image", lambda v: isinstance(v, str) and v, "to be an image"
    )
    name, _, digest = image.partition("@")
    _, colon, tag = name.rpartition(":")
    if not colon or "/" in tag:  # a colon before the last slash is a registry's port
        tag = ""
    pinned = re.fullmatch(r"sha256:[0-9a-f]{64}", digest) is not None or (
        bool(tag) and tag != "latest"
    )
    expect(
        pinned,
        f"expected {where(deployment, CONTAINER + '.image')} to be pinned (name:tag, not "
        f"latest, or name@sha256:digest), not {image!r}",
        help="An image without a tag is :latest: which code runs would depend on when the "
        "node pulled it.",
    )


@pytest.mark.requires("test_one_container")
def test_the_server_listens_on_all_interfaces(deployment: Doc) -> None:
    """the command serves on every interface: --host 0.0.0.0"""
    expect_equal(
        f"--host in {where(deployment, CONTAINER + '.command')}",
        "0.0.0.0",
        flag(deployment, "--host", HOST),
        help=HOST,
    )


@STUB_GIVES
@pytest.mark.requires("test_one_container")
def test_the_container_port_is_the_server_port(deployment: Doc, container: Doc) -> None:
    """the container declares containerPort 8000, the port its command serves (--port 8000)"""
    ports = expect_field(
        deployment, f"{CONTAINER}.ports", lambda v: isinstance(v, list), "to be a list"
    )
    declared = [port.get("containerPort") for port in ports if isinstance(port, dict)]
    expect(
        PORT in declared,
        f"expected {where(deployment, CONTAINER + '.ports')} to declare containerPort "
        f"{PORT}, not {declared}",
    )
    expect_equal(
        f"--port in {where(deployment, CONTAINER + '.command')}",
        str(PORT),
        flag(deployment, "--port"),
    )


@pytest.mark.parametrize("probe", ["readinessProbe", "livenessProbe"])
@pytest.mark.requires("test_one_container")
def test_the_probe_asks_a_route(
    exercise: ModuleType, deployment: Doc, container: Doc, probe: str
) -> None:
    """the {probe} asks (httpGet) a GET route of the app, on the container's port"""
    routes = get_routes(exercise.app)
    expect_field(
        deployment,
        f"{CONTAINER}.{probe}.httpGet.path",
        lambda v: v in routes,
        f"to be a GET route of the app, one of {shown_routes(exercise.app)}",
        help=PROBE_ROUTE,
    )
    expect_field(
        deployment,
        f"{CONTAINER}.{probe}.httpGet.port",
        lambda v: names_the_port(container, v),
        f"to name the container's port {PORT}",
        help=PROBE_PORT,
    )


@pytest.mark.requires("test_the_probe_asks_a_route")
def test_the_probes_ask_different_paths(deployment: Doc) -> None:
    """readiness and liveness ask different paths"""
    readiness = dig(deployment, f"{CONTAINER}.readinessProbe.httpGet.path")
    expect_field(
        deployment,
        f"{CONTAINER}.livenessProbe.httpGet.path",
        lambda v: v != readiness,
        f"to differ from the readinessProbe's {readiness!r}",
        help=LIVENESS,
    )


@pytest.mark.requires("test_the_probe_asks_a_route")
async def test_liveness_ignores_the_database(
    exercise: ModuleType, deployment: Doc, database: FakeDatabase
) -> None:
    """the liveness probe's path answers 200 while the database is down, asking it nothing"""
    path = dig(deployment, f"{CONTAINER}.livenessProbe.httpGet.path")
    database.up = False
    async with running(exercise.app) as (client, _):
        response = await client.get(path)
    expect_equal(
        f"status of GET {path} (the livenessProbe)", 200, response.status_code, help=LIVENESS
    )
    expect_equal(f"database pings during GET {path}", 0, database.pings, help=LIVENESS)


@pytest.mark.requires("test_the_probe_asks_a_route")
async def test_readiness_follows_the_database(
    exercise: ModuleType, deployment: Doc, database: FakeDatabase
) -> None:
    """the readiness probe's path answers 200 while the database answers, 503 when it does not"""
    path = dig(deployment, f"{CONTAINER}.readinessProbe.httpGet.path")
    async with running(exercise.app) as (client, _):
        up = await client.get(path)
        database.up = False
        down = await client.get(path)
    what = f"status of GET {path} (the readinessProbe)"
    expect_equal(f"{what} with the database up", 200, up.status_code, help=READINESS)
    expect_equal(f"{what} with the database down", 503, down.status_code, help=READINESS)


@pytest.mark.requires("test_one_container")
def test_resources_are_requested_and_limited(deployment: Doc) -> None:
    """the container requests and limits both cpu and memory"""
    for part in ("requests", "limits"):
        for resource in ("cpu", "memory"):
            quantity(deployment, f"{CONTAINER}.resources.{part}.{resource}")


@pytest.mark.requires("test_resources_are_requested_and_limited")
@pytest.mark.parametrize("resource", ["cpu", "memory"])
def test_requests_are_within_limits(deployment: Doc, resource: str) -> None:
    """the {resource} request is at most its limit"""
    resources = f"{CONTAINER}.resources"
    request = quantity(deployment, f"{resources}.requests.{resource}")
    limit = quantity(deployment, f"{resources}.limits.{resource}")
    expect(
        request <= limit,
        f"expected {where(deployment, resources + '.requests.' + resource)} to be at most "
        f"the limit {dig(deployment, resources + '.limits.' + resource)!r}, not "
        f"{dig(deployment, resources + '.requests.' + resource)!r}",
        help="Kubernetes refuses a pod that requests more than its limit.",
    )


def configmap_refs(container: Doc) -> list[tuple[str, Any, Any]]:
    """(path, ConfigMap name, key or None) for every ConfigMap the container reads."""
    refs = []
    for index, source in enumerate(listed(container, "envFrom")):
        if isinstance(source, dict) and "configMapRef" in source:
            path = f"envFrom[{index}].configMapRef.name"
            refs.append((path, dig(source, "configMapRef.name"), None))
    for index, var in enumerate(listed(container, "env")):
        ref = dig(var, "valueFrom.configMapKeyRef")
        if isinstance(ref, dict):
            path = f"env[{index}].valueFrom.configMapKeyRef"
            refs.append((path, ref.get("name"), ref.get("key", MISSING)))
    return refs


@pytest.mark.requires("test_one_container")
def test_configuration_from_a_configmap(deployment: Doc, container: Doc) -> None:
    """the container reads its configuration from a ConfigMap (envFrom or configMapKeyRef)"""
    expect(
        configmap_refs(container),
        f"expected {where(deployment, CONTAINER)} to read a ConfigMap (envFrom: "
        "configMapRef, or env valueFrom: configMapKeyRef), not none",
    )


@pytest.mark.requires("test_configuration_from_a_configmap")
def test_the_configmaps_are_in_the_manifests(
    docs: list[Doc], deployment: Doc, container: Doc
) -> None:
    """every ConfigMap the Deployment reads is in MANIFESTS, with the keys it reads"""
    maps = {dig(doc, "metadata.name"): doc for doc in docs if doc["kind"] == "ConfigMap"}
    for path, name, key in configmap_refs(container):
        expect(
            name in maps,
            f"expected {where(deployment, CONTAINER + '.' + path)} to name a ConfigMap of "
            f"MANIFESTS, one of {sorted(maps)}, not {name!r}",
            help="A pod whose ConfigMap is missing never starts: is the ConfigMap in "
            "MANIFESTS, under the same name?",
        )
        data = dig(maps[name], "data")
        keys = sorted(data) if isinstance(data, dict) else []
        expect(
            key is None or key in keys,
            f"expected {where(deployment, CONTAINER + '.' + path + '.key')} to be a key of "
            f"ConfigMap/{name} data, one of {keys}, not {show(key)}",
        )


def secret_refs(container: Doc) -> list[Any]:
    refs = [dig(var, "valueFrom.secretKeyRef") for var in listed(container, "env")]
    refs += [dig(source, "secretRef") for source in listed(container, "envFrom")]
    return [ref for ref in refs if isinstance(ref, dict)]


@pytest.mark.requires("test_one_container")
def test_secrets_from_a_secret(deployment: Doc, container: Doc) -> None:
    """the container reads its secrets from a Secret (valueFrom.secretKeyRef)"""
    refs = secret_refs(container)
    expect(
        refs,
        f"expected {where(deployment, CONTAINER)} to read a Secret (env valueFrom: "
        "secretKeyRef), not none",
        help=SECRET_HELP,
    )
    for ref in refs:
        expect(
            isinstance(ref.get("name"), str) and ref["name"],
            f"expected every secret reference in {where(deployment, CONTAINER)} to name its "
            f"Secret, not {ref!r}",
        )


@pytest.mark.requires("test_the_manifests_parse")
def test_no_secret_is_written_down(docs: list[Doc]) -> None:
    """no secret is written in MANIFESTS: no Secret, no literal value under a secret's name"""
    for doc in docs:
        expect(
            doc["kind"] != "Secret",
            f"expected no Secret in MANIFESTS, not {where(doc, 'data')}",
            help=SECRET_HELP,
        )
        values: list[tuple[str, Any, Any]] = []
        if doc["kind"] == "ConfigMap":
            data = doc.get("data") or {}
            values += [(f"data.{key}", key, value) for key, value in data.items()]
        for index, container in enumerate(listed(doc, f"{POD}.containers")):
            for number, var in enumerate(listed(container, "env")):
                if isinstance(var, dict) and "value" in var:
                    path = f"{POD}.containers[{index}].env[{number}]"
                    values.append((path, var.get("name"), var["value"]))
        for path, name, value in values:
            expect(
                not SECRET_NAME.search(str(name)) and not CREDENTIALS_IN_URL.search(str(value)),
                f"expected no literal secret in {where(doc, path)}, not {name}={value!r}",
                help=SECRET_HELP,
            )


@pytest.mark.requires("test_one_container")
def test_runs_as_non_root(deployment: Doc, container: Doc) -> None:
    """the container runs as a non-root user: runAsNonRoot true and a runAsUser other than 0"""
    for field, ok, wanted in (
        ("runAsNonRoot", lambda v: v is True, "to be true"),
        ("runAsUser", lambda v: is_int(v) and v > 0, "to be a user id other than 0"),
    ):
        path = f"{CONTAINER}.securityContext.{field}"
        if dig(deployment, path) is MISSING:
            path = f"{POD}.securityContext.{field}"
        expect_field(deployment, path, ok, wanted, help=NON_ROOT)


@pytest.mark.requires("test_one_container")
def test_a_prestop_sleep(deployment: Doc) -> None:
    """the container sleeps in a preStop hook, so the pod leaves the Service before it stops"""
    expect_field(
        deployment,
        f"{CONTAINER}.lifecycle.preStop",
        lambda _: prestop_sleep(deployment) >= 1,
        "to sleep at least 1 second (sleep: {seconds: 5}, or exec: sleep 5)",
        help="Endpoints are updated while the pod gets SIGTERM: a short sleep first keeps "
        "new connections from arriving at a server that has stopped accepting them.",
    )


@pytest.mark.requires("test_one_container")
def test_a_bounded_shutdown(deployment: Doc) -> None:
    """the command bounds the server's graceful shutdown: --timeout-graceful-shutdown"""
    number_flag(deployment, "--timeout-graceful-shutdown")


@pytest.mark.requires("test_a_prestop_sleep", "test_a_bounded_shutdown")
def test_the_grace_period_outlasts_both(deployment: Doc) -> None:
    """terminationGracePeriodSeconds is more than the preStop sleep plus the shutdown timeout"""
    sleep = prestop_sleep(deployment)
    drain = number_flag(deployment, "--timeout-graceful-shutdown")
    path = f"{POD}.terminationGracePeriodSeconds"
    grace = dig(deployment, path)
    shown = f"{DEFAULT_GRACE} (the default)" if grace is MISSING else repr(grace)
    grace = DEFAULT_GRACE if grace is MISSING else grace
    expect(
        is_int(grace) and grace > sleep + drain,
        f"expected {where(deployment, path)} to be more than {sleep} + {drain} (the preStop "
        f"sleep and the shutdown timeout), not {shown}",
        help=GRACE,
    )


# the Service and the budget ---------------------------------------------------------------


@pytest.mark.requires("test_one_service", "test_one_container")
def test_the_service_selects_the_pods(docs: list[Doc], deployment: Doc) -> None:
    """the Service's selector picks the Deployment's pods"""
    expect_selects(the(docs, "Service"), "spec.selector", deployment)


@pytest.mark.requires("test_one_service", "test_one_container")
def test_the_service_targets_the_container_port(
    docs: list[Doc], deployment: Doc, container: Doc
) -> None:
    """the Service sends its traffic to the container's port 8000 (targetPort)"""
    service = the(docs, "Service")
    ports = expect_field(
        service, "spec.ports", lambda v: isinstance(v, list) and v, "to list its ports"
    )
    for index, port in enumerate(ports):
        target = port.get("targetPort", port.get("port")) if isinstance(port, dict) else None
        expect(
            names_the_port(container, target),
            f"expected {where(service, f'spec.ports[{index}].targetPort')} to name the "
            f"container's port {PORT}, not {target!r}",
            help="Left out, targetPort is the Service's port: is it the container's port, as "
            "8000 or as the name the container's ports list gives it?",
        )


@pytest.mark.requires("test_one_budget", "test_one_container")
def test_the_budget_selects_the_pods(docs: list[Doc], deployment: Doc) -> None:
    """the PodDisruptionBudget's selector.matchLabels pick the Deployment's pods"""
    expect_selects(the(docs, "PodDisruptionBudget"), "spec.selector.matchLabels", deployment)


def disruptions(docs: list[Doc], deployment: Doc) -> tuple[Doc, str, int, int]:
    """The budget, the field it sets, that field in pods, and the replicas."""
    budget = the(docs, "PodDisruptionBudget")
    replicas = dig(deployment, "spec.replicas")
    replicas = replicas if is_int(replicas) else 1
    fields = [
        f for f in ("minAvailable", "maxUnavailable") if dig(budget, f"spec.{f}") is not MISSING
    ]
    expect(
        len(fields) == 1,
        f"expected {where(budget, 'spec')} to set one of minAvailable and maxUnavailable, "
        f"not {fields or 'neither'}",
    )
    path = f"spec.{fields[0]}"
    pods = budget_pods(dig(budget, path), replicas)
    expect(
        pods is not None,
        f"expected {where(budget, path)} to be a number or a percentage, not {dig(budget, path)!r}",
    )
    return budget, path, pods, replicas  # type: ignore[return-value]


@pytest.mark.requires("test_one_budget", "test_at_least_two_replicas")
def test_the_budget_lets_a_drain_proceed(docs: list[Doc], deployment: Doc) -> None:
    """the budget lets a pod go: minAvailable below replicas, or maxUnavailable at least 1"""
    budget, path, pods, replicas = disruptions(docs, deployment)
    allowed = replicas - pods if path.endswith("minAvailable") else pods
    expect(
        allowed >= 1,
        f"expected {where(budget, path)} to let at least 1 of {replicas} replicas go, not "
        f"{dig(budget, path)!r}",
        help=DRAIN,
    )


@pytest.mark.requires("test_one_budget", "test_at_least_two_replicas")
def test_the_budget_keeps_a_pod(docs: list[Doc], deployment: Doc) -> None:
    """the budget keeps a pod serving: minAvailable at least 1, or maxUnavailable below replicas"""
    budget, path, pods, replicas = disruptions(docs, deployment)
    kept = pods if path.endswith("minAvailable") else replicas - pods
    expect(
        kept >= 1,
        f"expected {where(budget, path)} to keep at least 1 of {replicas} replicas, not "
        f"{dig(budget, path)!r}",
        help=KEEPS_ONE,
    )


# the app ----------------------------------------------------------------------------------


async def test_healthz_is_200_while_the_database_is_down(
    exercise: ModuleType, database: FakeDatabase
) -> None:
    """GET /healthz answers 200 {"status": "ok"} while the database is down, asking it nothing"""
    database.up = False
    async with running(exercise.app) as (client, _):
        response = await client.get("/healthz")
    expect_status(response, 200, help=HEALTHZ if response.status_code == 503 else None)
    expect_json(response, {"status": "ok"})
    expect_equal("database pings during GET /healthz", 0, database.pings, help=HEALTHZ)


async def test_readyz_follows_the_database(exercise: ModuleType, database: FakeDatabase) -> None:
    """GET /readyz answers 200 while the database answers, 503 when not, asking every time"""
    async with running(exercise.app) as (client, _):
        answers = []
        for up in (True, False, True):
            database.up = up
            answers.append(await client.get("/readyz"))
    ready, unavailable = {"status": "ready"}, {"status": "unavailable"}
    for response, status, body in zip(
        answers, (200, 503, 200), (ready, unavailable, ready), strict=True
    ):
        known = response.status_code in (200, 503)
        expect_equal(
            "status of GET /readyz", status, response.status_code, help=READYZ if known else None
        )
        expect_json(response, body)
    expect_equal("database pings for 3 GET /readyz", 3, database.pings)


async def test_the_app_as_given_is_ready(exercise: ModuleType) -> None:
    """with the given Database, GET /readyz answers 200 {"status": "ready"}"""
    async with running(exercise.app) as (client, _):
        response = await client.get("/readyz")
    expect_json(response, {"status": "ready"})
