"""The architecture's one-way imports, checked on the source (docs/architecture.md):

    wrapper.api -> wrapper.jobs.submission -> wrapper.{admission, algorithms}
                -> wrapper.jobs -> wrapper.redis
    queue_workers.{worker, watcher} -> queue_workers.kube, and the wrapper domain packages

`wrapper` never imports `queue_workers`; `queue_workers` never imports `wrapper.api`; nothing
below the API imports Flask; only `queue_workers.kube` talks to the Kubernetes API (besides the
API's readiness probe); no import cycle anywhere; the pure modules do no I/O.
"""

import ast
from functools import cache
from pathlib import Path

import pytest

from tests.support import REPO

PACKAGES = ("wrapper", "queue_workers")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in (REPO / pkg).rglob("*.py")}


@cache
def imports(path: Path) -> frozenset[str]:
    """Every module a file imports, at any level (TYPE_CHECKING and function bodies too):
    `from a.b import c` counts as a.b, and as a.b.c when that is a module of ours."""
    ours = modules()
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{a.name}" for a in node.names} & ours.keys()
    return frozenset(names)


def graph() -> dict[str, set[str]]:
    ours = modules()
    return {name: {i for i in imports(path) if i in ours} for name, path in ours.items()}


def under(name: str, *prefixes: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_no_import_cycles():
    edges = graph()
    # Tarjan's strongly connected components: any component of two or more is a cycle.
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            # A package's __init__ re-exporting its submodules is not a cycle of roles.
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    assert not cycles, cycles


# (importer prefix, forbidden import prefixes)
RULES = [
    ("wrapper", ["queue_workers"]),
    ("queue_workers", ["wrapper.api"]),
    ("wrapper.redis", ["wrapper.jobs", "wrapper.admission", "wrapper.algorithms", "wrapper.api"]),
    ("wrapper.jobs.states", ["wrapper.jobs.store", "wrapper.admission", "wrapper.api"]),
    ("wrapper.jobs.store", ["wrapper.admission", "wrapper.algorithms", "wrapper.api"]),
    ("wrapper.jobs.queues", ["wrapper.admission", "wrapper.algorithms", "wrapper.api"]),
    ("wrapper.jobs.leases", ["wrapper.admission", "wrapper.algorithms", "wrapper.api"]),
    ("wrapper.admission", ["wrapper.api", "wrapper.algorithms", "wrapper.jobs.submission"]),
    ("wrapper.algorithms", ["wrapper.api", "wrapper.jobs", "wrapper.admission"]),
    ("wrapper.jobs.submission", ["wrapper.api"]),
    # Events sit beside the job store: the store's scripts publish them, the API reads them.
    ("wrapper.events", ["wrapper.api", "wrapper.jobs.store", "wrapper.admission"]),
    ("queue_workers.kube", ["queue_workers.worker", "queue_workers.watcher"]),
    ("queue_workers.worker", ["queue_workers.watcher"]),
    ("queue_workers.watcher", ["queue_workers.worker"]),
    # Counted from every layer (wrapper.jobs.store included): it may import none of them.
    ("wrapper.metrics.events", ["wrapper.jobs", "wrapper.admission", "wrapper.redis"]),
    ("wrapper.metrics", ["wrapper.api"]),
]


@pytest.mark.parametrize(("importer", "forbidden"), RULES)
def test_dependencies_point_one_way(importer, forbidden):
    edges = graph()
    for name, targets in edges.items():
        if under(name, importer):
            bad = {t for t in targets if under(t, *forbidden)}
            assert not bad, f"{name} imports {sorted(bad)}"


def test_the_api_reaches_redis_through_the_domain():
    """Only the app factory touches wrapper.redis (it makes the connection)."""
    for name, targets in graph().items():
        if under(name, "wrapper.api") and name != "wrapper.api.app":
            bad = {t for t in targets if under(t, "wrapper.redis")}
            assert not bad, f"{name} imports {sorted(bad)}"


def test_nothing_below_the_api_imports_flask():
    for name, path in modules().items():
        if not under(name, "wrapper.api"):
            flask = {i for i in imports(path) if under(i, "flask", "werkzeug")}
            assert not flask, f"{name} imports {sorted(flask)}"


def test_the_cli_speaks_only_http():
    """`wrapper.cli` (the `trainq` command) is a client like any other: it imports nothing of
    trainq outside itself (not even the response models) nor a server library, and nothing
    imports it."""
    server_libs = ("flask", "werkzeug", "redis", "rq", "kubernetes", "pydantic", "gunicorn")
    for name, targets in graph().items():
        if under(name, "wrapper.cli"):
            bad = {t for t in targets if not under(t, "wrapper.cli")}
            bad |= {i for i in imports(modules()[name]) if under(i, *server_libs)}
            assert not bad, f"{name} imports {sorted(bad)}"
        else:
            assert not {t for t in targets if under(t, "wrapper.cli")}, name


def test_kubernetes_api_use_is_confined():
    # wrapper: the client builder (for the readiness probe) and quantity parsing only.
    allowed = {"wrapper.kubeclient", "wrapper.api.health", "wrapper.validation.k8s_names"}
    for name, path in modules().items():
        if any(under(i, "kubernetes") for i in imports(path)):
            assert name in allowed or under(name, "queue_workers.kube"), name


PURE = [
    "wrapper.admission.policy", "wrapper.admission.fit", "wrapper.admission.snapshot",
    "wrapper.admission.pools", "wrapper.admission.resources", "wrapper.admission.placement",
    "wrapper.admission.reasons", "wrapper.admission.turns", "wrapper.admission.claims",
    "wrapper.admission.rooms", "wrapper.jobs.states", "wrapper.events.types",
    "wrapper.events.signing",
    "queue_workers.kube.pytorchjob", "queue_workers.kube.status", "queue_workers.kube.pods",
    "queue_workers.kube.trainjob", "queue_workers.kube.trainjob_status",
    "queue_workers.worker.selection", "wrapper.runs.reports", "wrapper.runs.stalls",
    "wrapper.runs.comparison", "wrapper.runs.tokens",
]  # fmt: skip


@pytest.mark.parametrize("name", PURE)
def test_pure_modules_do_no_io(name):
    io = {"redis", "kubernetes", "requests", "urllib3", "rq", "flask"}
    used = {n.split(".")[0] for n in imports(modules()[name])}
    assert not used & io, (name, used & io)
    assert not {i for i in imports(modules()[name]) if under(i, "wrapper.redis")}, name
