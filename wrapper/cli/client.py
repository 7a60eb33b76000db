"""The CLI's HTTP client: one requests session with the bearer token, JSON in and out, every
non-2xx answer raised as an `ApiProblem`, connection failures as `Unreachable`; and the two
streams, a replica's log and the team's Server-Sent Events."""

import json
from collections.abc import Iterator
from dataclasses import dataclass

import requests

from wrapper.cli.errors import ApiProblem, Unreachable, usage
from wrapper.cli.settings import Settings

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 30.0
USER_AGENT = "trainq-cli/0.1.0"


@dataclass(frozen=True)
class Event:
    """One Server-Sent Event of the team's stream (GET /v1/teams/{team}/events)."""

    id: str | None
    type: str
    data: dict


def _problem(response: requests.Response) -> ApiProblem:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        text = response.text.strip()[:300]
        body = {"title": response.reason or f"HTTP {response.status_code}", "detail": text or None}
    return ApiProblem(response.status_code, body)


class Client:
    def __init__(self, settings: Settings, session: requests.Session | None = None):
        if not settings.token:
            raise usage(
                'no token: give --token, set TRAINQ_TOKEN, or put `token = "..."` in '
                "the config file (docs/cli.md)"
            )
        self.settings = settings
        self.base = settings.url
        self.http = session or requests.Session()
        self._events_http: requests.Session | None = None
        self.http.headers.update(
            {"Authorization": f"Bearer {settings.token}", "User-Agent": USER_AGENT}
        )

    @property
    def team(self) -> str:
        return self.settings.need_team()

    def team_path(self, rest: str = "") -> str:
        return f"/v1/teams/{self.team}{rest}"

    def request(
        self,
        method: str,
        path: str,
        *,
        stream: bool = False,
        read_timeout: float | None = READ_TIMEOUT,
        http: requests.Session | None = None,
        **kwargs,
    ) -> requests.Response:
        try:
            response = (http or self.http).request(
                method,
                self.base + path,
                stream=stream,
                timeout=(CONNECT_TIMEOUT, read_timeout),
                **kwargs,
            )
        except requests.exceptions.InvalidURL as exc:
            raise usage(f"not a URL: {self.base} ({exc})") from None
        except requests.exceptions.MissingSchema:
            raise usage(f"not a URL: {self.base} (give http://host:port)") from None
        except requests.RequestException as exc:
            raise Unreachable(self.base, _reason(exc)) from None
        if response.status_code >= 400:
            raise _problem(response)
        return response

    def get(self, path: str, **params) -> dict:
        clean = {k: v for k, v in params.items() if v is not None}
        return self._json(self.request("GET", path, params=clean))

    def post(
        self,
        path: str,
        body: dict | None = None,
        params: dict | None = None,
        headers: dict | None = None,
    ) -> dict:
        return self._json(self.request("POST", path, json=body, params=params, headers=headers))

    def delete(self, path: str) -> dict:
        return self._json(self.request("DELETE", path))

    def _json(self, response: requests.Response) -> dict:
        try:
            return response.json()
        except ValueError:
            raise Unreachable(
                self.base, "the answer was not JSON (is this trainq's API?)"
            ) from None

    # --- domain shortcuts -------------------------------------------------------------
    def job(self, job_id: int) -> dict:
        return self.get(self.team_path(f"/jobs/{job_id}"))

    def metrics(self, job_id: int) -> dict:
        return self.get(self.team_path(f"/jobs/{job_id}/metrics"))

    # --- streams ----------------------------------------------------------------------
    def log(self, job_id: int, params: dict) -> requests.Response:
        """The log answer, streaming (its `Trainq-Log-Source` header says live or archive)."""
        clean = {k: v for k, v in params.items() if v is not None}
        # No read timeout while following: a quiet trainer is not a dead server.
        timeout = None if clean.get("follow") == "true" else READ_TIMEOUT
        return self.request(
            "GET",
            self.team_path(f"/jobs/{job_id}/logs"),
            params=clean,
            stream=True,
            read_timeout=timeout,
        )

    def events(self, last_id: str | None = None, read_timeout: float = 40.0) -> "EventStream":
        """Opens the team's event stream (starting after `last_id`, else with the next event).
        The server sends a keepalive every 15 s, so a longer silence means a dead link."""
        headers = {"Accept": "text/event-stream"}
        if last_id:
            headers["Last-Event-ID"] = last_id
        # A session of its own: the stream is read on another thread than the other calls.
        if self._events_http is None:
            self._events_http = requests.Session()
            self._events_http.headers.update(self.http.headers)
        response = self.request(
            "GET",
            self.team_path("/events"),
            stream=True,
            headers=headers,
            read_timeout=read_timeout,
            http=self._events_http,
        )
        return EventStream(response)


class EventStream:
    """Parses a text/event-stream body into `Event`s; ends when the server closes it."""

    def __init__(self, response: requests.Response):
        self.response = response
        self.last_id: str | None = None

    def __iter__(self) -> Iterator[Event]:
        fields: dict[str, list[str]] = {}
        for raw in self.response.iter_lines(decode_unicode=True):
            line = raw if raw is not None else ""
            if line == "":
                if "data" in fields:
                    yield self._event(fields)
                fields = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(":")
                fields.setdefault(name, []).append(value[1:] if value.startswith(" ") else value)

    def _event(self, fields: dict[str, list[str]]) -> Event:
        if "id" in fields:
            self.last_id = fields["id"][-1]
        try:
            data = json.loads("\n".join(fields["data"]))
        except ValueError:
            data = {}
        kind = fields.get("event", ["message"])[-1]
        return Event(self.last_id, kind, data if isinstance(data, dict) else {})

    def close(self) -> None:
        self.response.close()


def _reason(exc: requests.RequestException) -> str:
    if isinstance(exc, requests.exceptions.ConnectTimeout | requests.exceptions.ReadTimeout):
        return "timed out"
    if isinstance(exc, requests.exceptions.ConnectionError):
        return "connection refused or lost"
    return type(exc).__name__
