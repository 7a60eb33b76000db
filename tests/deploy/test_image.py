"""The Dockerfile: pinned non-root image whose three commands (API, workers, watcher) exist
in this tree and import; only what .dockerignore lets through is needed."""

import fnmatch
import re
import shlex
import subprocess
import sys

import pytest

from tests.deploy.tools import REPO

DOCKERFILE = REPO / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def labels() -> dict[str, str]:
    out = {}
    for word, rest in instructions():
        if word == "LABEL":
            for item in shlex.split(rest):
                key, _, value = item.partition("=")
                out[key] = value
    return out


def commands() -> dict[str, list[str]]:
    """The image's process commands: the CMD (the API) and the dev.trainq.command.* labels."""
    out = {
        k.rsplit(".", 1)[1]: shlex.split(v)
        for k, v in labels().items()
        if k.startswith("dev.trainq.command.")
    }
    cmd = [rest for word, rest in instructions() if word == "CMD"]
    assert len(cmd) == 1, "the Dockerfile needs exactly one CMD"
    out["cmd"] = __import__("json").loads(cmd[0])
    return out


def modules_of(argv: list[str]) -> list[str]:
    """Python modules a command runs: `python -m X`, or gunicorn's `pkg.mod:app`."""
    if argv[0] == "python":
        assert argv[1] == "-m", argv
        return [argv[2]]
    assert argv[0] == "gunicorn", argv
    conf = argv[argv.index("-c") + 1]
    assert (REPO / conf).is_file(), f"gunicorn config {conf} missing"
    return [a.split(":")[0] for a in argv if re.fullmatch(r"[\w.]+:\w+", a)]


def test_base_image_pinned_and_user_not_root():
    args = dict(
        rest.split("=", 1) for word, rest in instructions() if word == "ARG" and "=" in rest
    )
    image = args["PYTHON_IMAGE"]
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", image), image
    froms = [rest for word, rest in instructions() if word == "FROM"]
    assert froms and all(f.split()[0] == "${PYTHON_IMAGE}" for f in froms), froms
    users = [rest for word, rest in instructions() if word == "USER"]
    assert users, "no USER: the image would run as root"
    assert users[-1].split(":")[0] not in ("root", "0"), users[-1]
    assert ("ARG", "UID=10001") in instructions()


def test_three_commands_declared():
    cmds = commands()
    assert set(cmds) == {"cmd", "api", "worker", "watcher"}, cmds
    assert cmds["cmd"] == cmds["api"], "the default command is the API"
    assert cmds["worker"] == ["python", "-m", "queue_workers"]
    assert cmds["watcher"] == ["python", "-m", "queue_workers.watcher"]


@pytest.mark.parametrize("role", ["api", "worker", "watcher"])
def test_command_modules_import(role, tmp_path):
    """Each module a command names imports in the venv, with the environment the image sets
    (the API's wsgi module loads TRAINQ_CONFIG at import)."""
    modules = modules_of(commands()[role])
    assert modules, role
    # `python -m <package>` runs <package>.__main__.
    code = "import importlib\n" + "".join(
        f"m = importlib.import_module({m!r})\n"
        f"m = importlib.import_module({m!r} + '.__main__') if hasattr(m, '__path__') else m\n"
        for m in modules
    )
    if role == "api":
        code += "assert callable(m.app), 'wsgi module has no app'\n"
    else:
        code += "assert callable(m.main), 'no main()'\n"
    env = {
        "TRAINQ_CONFIG": str(REPO / "k8s/local/trainq.yaml"),
        "PYTHONPATH": str(REPO),
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "PATH": "/usr/bin:/bin",
    }
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("module", ["queue_workers", "queue_workers.watcher"])
def test_python_m_entrypoints_start(module):
    """`python -m <module> --help` runs the module's real entry point (argparse first)."""
    proc = subprocess.run(
        [sys.executable, "-m", module, "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"python -m {module}" in proc.stdout


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins; `!` re-includes."""
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pat = pattern[1:] if negate else pattern
        pat = pat.rstrip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(
            fnmatch.fnmatch(p, pat) or fnmatch.fnmatch(p, pat.replace("**/", "")) for p in prefixes
        ):
            ignored = not negate
    return ignored


def test_copied_sources_exist_and_are_not_dockerignored():
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    copies = [rest for word, rest in instructions() if word == "COPY" and "--from" not in rest]
    assert copies
    for rest in copies:
        for src in rest.split()[:-1]:
            path = REPO / src
            assert path.exists(), f"COPY {src}: not in the repository"
            sample = src.rstrip("/") + ("/__init__.py" if path.is_dir() else "")
            assert not _ignored(sample, patterns), f"COPY {src}: excluded by .dockerignore"
    # Nothing heavy or secret goes into the build context.
    for path in (
        ".venv/bin/python",
        ".local/kubeconfig",
        "tests/conftest.py",
        ".git/HEAD",
        "wrapper/__pycache__/x.pyc",
    ):
        assert _ignored(path, patterns), f"{path} would be sent to the docker build"
