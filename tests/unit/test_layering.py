"""The style guide's one-way imports: `wrapper` never imports `queue_workers`, and only
dispatch/watcher code (queue_workers) talks to the Kubernetes API besides the readiness probe."""

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_wrapper_never_imports_queue_workers():
    for path in (REPO / "wrapper").glob("*.py"):
        bad = {n for n in imports(path) if n.split(".")[0] == "queue_workers"}
        assert not bad, f"{path.name} imports {bad}"


def test_kubernetes_api_use_is_confined():
    allowed = {"kubenames.py", "kubeclient.py", "health.py"}  # quantities, client, readiness
    for path in (REPO / "wrapper").glob("*.py"):
        if any(n.split(".")[0] == "kubernetes" for n in imports(path)):
            assert path.name in allowed, path.name


def test_pure_modules_do_no_io():
    io = {"redis", "kubernetes", "requests", "urllib3", "rq"}
    for name in ("pytorchjob.py", "status.py", "selection.py"):
        used = {n.split(".")[0] for n in imports(REPO / "queue_workers" / name)}
        assert not used & io, (name, used & io)
