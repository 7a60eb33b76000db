"""The one kubelet endpoint trainq needs: GET /containerLogs/{namespace}/{pod}/{container}, which
the apiserver proxies for `kubectl logs`. Served over HTTPS with a self-signed certificate: the
apiserver verifies kubelet certificates only when --kubelet-certificate-authority is set, and
the local control plane does not set it. Bound to 127.0.0.1 only, so it needs no client auth.

Supported query parameters: follow, tailLines, limitBytes, previous. `timestamps` and
sinceSeconds/sinceTime are accepted and ignored: logs are stored as the raw bytes the process
wrote, without per-line times."""

from __future__ import annotations

import logging
import os
import ssl
import subprocess
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

log = logging.getLogger(__name__)
FOLLOW_POLL_S = 0.3

# (namespace, pod, container, previous) -> log file or None
LogLocator = Callable[[str, str, str, bool], Path | None]
# (namespace, pod, container) -> whether the process is still writing
WritingCheck = Callable[[str, str, str], bool]


def tail_bytes(data: bytes, lines: int) -> bytes:
    """The last `lines` lines (a final unterminated line counts as one)."""
    if lines <= 0:
        return b""
    parts = data.splitlines(keepends=True)
    return b"".join(parts[-lines:])


def ensure_certificate(pki: Path, common_name: str) -> tuple[Path, Path]:
    cert, key = pki / "kubelet.crt", pki / "kubelet.key"
    if cert.exists() and key.exists():
        return cert, key
    pki.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
         "-subj", f"/CN={common_name}", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    os.chmod(key, 0o600)
    return cert, key


def make_handler(locate: LogLocator, writing: WritingCheck) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "trainq-nodeagent"

        def log_message(self, fmt: str, *args) -> None:
            log.debug("log server: " + fmt, *args)

        def do_GET(self) -> None:
            url = urlparse(self.path)
            parts = [unquote(p) for p in url.path.strip("/").split("/")]
            if parts == ["healthz"]:
                self._plain(200, b"ok")
                return
            if len(parts) != 4 or parts[0] != "containerLogs":
                self._plain(404, b"not found: only /containerLogs/{ns}/{pod}/{container}\n")
                return
            _, namespace, pod, container = parts
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            try:
                tail = int(query["tailLines"]) if "tailLines" in query else None
                limit = int(query["limitBytes"]) if "limitBytes" in query else None
            except ValueError:
                self._plain(400, b"tailLines and limitBytes must be integers\n")
                return
            previous = query.get("previous") == "true"
            path = locate(namespace, pod, container, previous)
            if path is None:
                # The apiserver has already checked the container is in the pod's spec; no file
                # means it never ran here (an init container, or not started yet): empty log.
                self._plain(200, b"")
                return
            follow = query.get("follow") == "true" and not previous
            self._send_log(path, tail, limit, follow, lambda: writing(namespace, pod, container))

        def _plain(self, code: int, body: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _send_log(self, path, tail, limit, follow, still_writing) -> None:
            with open(path, "rb") as f:
                data = f.read()
                if tail is not None:
                    data = tail_bytes(data, tail)
                if limit is not None:
                    data = data[:limit]
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                if not follow:
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                sent = len(data)
                # HTTP/1.0 without a length: the stream ends when we close the connection.
                while follow and (limit is None or sent < limit):
                    chunk = f.read(64 * 1024)
                    if chunk:
                        if limit is not None:
                            chunk = chunk[: limit - sent]
                        self.wfile.write(chunk)
                        self.wfile.flush()
                        sent += len(chunk)
                    elif still_writing():
                        time.sleep(FOLLOW_POLL_S)
                    else:
                        rest = f.read()  # written between the last read and the exit
                        if rest:
                            self.wfile.write(rest)
                        break

    return Handler


class LogServer:
    def __init__(self, port: int, pki: Path, node_name: str, locate: LogLocator,
                 writing: WritingCheck, host: str = "127.0.0.1"):  # fmt: skip
        cert, key = ensure_certificate(pki, node_name)
        self.httpd = ThreadingHTTPServer((host, port), make_handler(locate, writing))
        self.httpd.daemon_threads = True
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        # Handshake lazily, in the request's thread, so one slow client cannot stall accept().
        self.httpd.socket = ctx.wrap_socket(
            self.httpd.socket, server_side=True, do_handshake_on_connect=False
        )
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="log-server",
                                        daemon=True)  # fmt: skip

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
