"""A stub of trainq's HTTP API for the CLI's unit tests: a real local HTTP server that answers
what each test declares per (method, path) and records every request, so the CLI is tested
through its real HTTP client, without Redis or Kubernetes."""

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from typer.testing import CliRunner

from wrapper.cli.app import app


@dataclass
class Seen:
    method: str
    path: str
    query: dict
    headers: dict
    body: object


@dataclass
class StubApi:
    url: str = ""
    routes: dict = field(default_factory=dict)
    seen: list = field(default_factory=list)

    def on(self, method: str, path: str, *answers):
        """Answers, in turn, to method+path (the last one repeats). An answer is (status, body)
        or (status, body, headers); a str body is sent as is, anything else as JSON."""
        self.routes[(method, path)] = list(answers)

    def requests(self, method: str, path: str) -> list[Seen]:
        return [s for s in self.seen if s.method == method and s.path == path]


def problem(status: int, title: str, detail: str, errors: list | None = None) -> tuple:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if errors is not None:
        body["errors"] = errors
    return status, body, {"Content-Type": "application/problem+json"}


def _handler(stub: StubApi):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def _answer(self):
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            stub.seen.append(Seen(self.command, parts.path, parse_qs(parts.query),
                                  dict(self.headers), body))  # fmt: skip
            answers = stub.routes.get((self.command, parts.path))
            if not answers:
                answers = [problem(404, "Not Found", "No such route in the stub.")]
            answer = answers.pop(0) if len(answers) > 1 else answers[0]
            status, payload, headers = answer if len(answer) == 3 else (*answer, {})
            headers = dict(headers)
            data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
            self.send_response(status)
            ctype = "text/plain" if isinstance(payload, str) else "application/json"
            self.send_header("Content-Type", headers.pop("Content-Type", ctype))
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = do_PUT = _answer

    return Handler


@pytest.fixture
def api():
    stub = StubApi()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(stub))
    server.daemon_threads = True
    stub.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield stub
    server.shutdown()
    server.server_close()


@pytest.fixture
def cli(api, tmp_path, monkeypatch):
    """Runs `trainq ARGS` against the stub, team alpha, with no user config file."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    for name in ("TRAINQ_URL", "TRAINQ_TOKEN", "TRAINQ_TEAM", "TRAINQ_CLI_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    # The consoles read COLUMNS once, when their module is first imported (under xdist, maybe
    # by another test): a fixed width keeps tables from wrapping whatever ran first.
    from wrapper.cli import errors, render

    monkeypatch.setattr(render.console, "width", 200)
    monkeypatch.setattr(errors.stderr, "width", 200)
    runner = CliRunner()

    def run(*args: str, env: dict | None = None, connect: bool = True, input: str | None = None):
        base = ["--url", api.url, "--token", "alpha-dev-token", "--team", "alpha"]
        return runner.invoke(app, [*(base if connect else []), *args], input=input,
                             env={"COLUMNS": "200", **(env or {})})  # fmt: skip

    return run
