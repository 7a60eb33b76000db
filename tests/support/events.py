"""Frontends' side of trainq's events, for tests: a webhook receiver (a real HTTP server in a
thread that checks every signature and can answer 500 a given number of times first) and a
Server-Sent Events reader over a real HTTP connection."""

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

from wrapper.events import signing


@dataclass
class Received:
    headers: dict
    body: bytes
    signed: bool  # the signature verified with the receiver's secret
    answered: int

    @property
    def event(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """POST /hook: verify, record, answer 500 to the first `failures` attempts of each event
    (by Trainq-Event-Id), then 200."""

    secret: bytes
    failures: int = 0
    received: list[Received] = field(default_factory=list)

    def __post_init__(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                signed = signing.verify(
                    receiver.secret, self.headers.get(signing.TIMESTAMP_HEADER), body,
                    self.headers.get(signing.SIGNATURE_HEADER), now=time.time(),
                )  # fmt: skip
                event_id = self.headers.get(signing.EVENT_ID_HEADER)
                with receiver.lock:
                    tries = [r for r in receiver.received
                             if r.headers.get(signing.EVENT_ID_HEADER) == event_id]  # fmt: skip
                    status = 500 if len(tries) < receiver.failures else 200
                    receiver.received.append(Received(dict(self.headers), body, signed, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):  # quiet
                pass

        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def snapshot(self) -> list[Received]:
        with self.lock:
            return list(self.received)


@dataclass(frozen=True)
class Frame:
    id: str | None
    event: str | None
    data: dict | None
    comment: bool = False


class EventStream:
    """An open SSE connection: `frames()` yields each frame as it arrives."""

    def __init__(self, base: str, team: str, token: str, last_event_id: str | None = None,
                 since: str | None = None, timeout: float = 30):  # fmt: skip
        headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        params = {"since": since} if since is not None else None
        self.response = requests.get(f"{base}/v1/teams/{team}/events", headers=headers,
                                     params=params, stream=True, timeout=timeout)  # fmt: skip

    def frames(self):
        buffer = ""
        for chunk in self.response.iter_content(chunk_size=None, decode_unicode=True):
            buffer += chunk
            while "\n\n" in buffer:
                raw, buffer = buffer.split("\n\n", 1)
                yield parse(raw)

    def events_until(self, done, limit: int = 200) -> list[Frame]:
        """Events (no comments or retry lines) up to and including the first `done(frame)`."""
        out = []
        for frame in self.frames():
            if frame.event is None:
                continue
            out.append(frame)
            if done(frame) or len(out) >= limit:
                return out
        return out

    def close(self) -> None:
        self.response.close()


def parse(raw: str) -> Frame:
    fields: dict[str, str] = {}
    comment = False
    for line in raw.split("\n"):
        if line.startswith(":"):
            comment = True
            continue
        name, _, value = line.partition(":")
        fields[name] = value.removeprefix(" ")
    data = json.loads(fields["data"]) if "data" in fields else None
    return Frame(fields.get("id"), fields.get("event"), data, comment)
