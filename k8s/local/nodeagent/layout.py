"""Where the agent keeps things under its state directory: container logs, per-pod process
records (so a restarted agent can find processes its predecessor left behind), TLS files, and
the directories of claims not backed by a host path (volumes.py)."""

from __future__ import annotations

from pathlib import Path


class Layout:
    def __init__(self, state_dir: Path):
        self.root = Path(state_dir).resolve()
        self.logs = self.root / "logs"
        self.pods = self.root / "pods"
        self.pki = self.root / "pki"
        self.claims = self.root / "claims"

    def make(self) -> None:
        for d in (self.logs, self.pods, self.pki):
            d.mkdir(parents=True, exist_ok=True)

    def pod_log_dir(self, namespace: str, pod: str, uid: str) -> Path:
        # Same shape as the kubelet's /var/log/pods/<ns>_<pod>_<uid>/ so it reads familiar.
        return self.logs / f"{namespace}_{pod}_{uid}"

    def container_log(self, namespace: str, pod: str, uid: str, container: str) -> Path:
        return self.pod_log_dir(namespace, pod, uid) / f"{container}.log"

    def previous_log(self, namespace: str, pod: str, uid: str, container: str) -> Path:
        return self.pod_log_dir(namespace, pod, uid) / f"{container}.previous.log"

    def newest_pod_log_dir(self, namespace: str, pod: str) -> Path | None:
        """The log dir of the newest pod with this name: the operator recreates pods under the
        same name, and only the current one is in the API."""
        dirs = [d for d in self.logs.glob(f"{namespace}_{pod}_*") if d.is_dir()]
        return max(dirs, key=lambda d: d.stat().st_mtime) if dirs else None

    def pod_record(self, uid: str) -> Path:
        return self.pods / f"{uid}.json"
