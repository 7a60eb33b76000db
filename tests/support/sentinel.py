"""A replicated Redis under Sentinel on loopback, from the Debian `redis-server` and
`redis-sentinel` binaries: a primary, one replica and three sentinels (quorum 2), each a real
process with its own port and directory, all with one password, failing over within seconds
(down-after 1 s). A test may SIGKILL the primary and bring it back as a replica, as a
restarted pod would be."""

import secrets
import shutil
import subprocess
from pathlib import Path

import redis

from tests.support import free_port, wait_until

SERVICE = "trainq"


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} is not installed: apt-get install -y redis-sentinel")
    return path


class SentinelRedis:
    def __init__(self, directory: Path):
        self.dir = directory
        self.password = secrets.token_hex(16)
        self.ports = {"a": free_port(), "b": free_port()}  # a starts as the primary
        self.sentinel_ports = [free_port() for _ in range(3)]
        self.procs: dict[str, subprocess.Popen] = {}

    # --- what trainq is given ------------------------------------------------------------
    @property
    def url(self) -> str:
        """REDIS_URL: its password and DB count; under Sentinel its host:port is not used."""
        return f"redis://:{self.password}@127.0.0.1:{self.ports['a']}/0"

    @property
    def env(self) -> dict:
        return {
            "REDIS_URL": self.url,
            "REDIS_SENTINELS": ",".join(f"127.0.0.1:{p}" for p in self.sentinel_ports),
            "REDIS_SENTINEL_MASTER": SERVICE,
        }

    # --- processes -----------------------------------------------------------------------
    def _server(self, name: str, replica_of: int | None = None) -> None:
        node = self.dir / name
        node.mkdir(parents=True, exist_ok=True)
        conf = node / "redis.conf"
        # masterauth: a primary brought back as a replica must authenticate to the new one.
        conf.write_text(f"requirepass {self.password}\nmasterauth {self.password}\n")
        argv = [_binary("redis-server"), str(conf), "--port", str(self.ports[name]),
                "--bind", "127.0.0.1", "--dir", str(node), "--appendonly", "yes",
                "--appendfsync", "everysec", "--save", "",
                # A full resync starts at once, not after the default 5 s wait for more
                # replicas: the rejoining replica is what lets WAIT succeed again.
                "--repl-diskless-sync-delay", "0"]  # fmt: skip
        if replica_of:
            argv += ["--replicaof", "127.0.0.1", str(replica_of)]
        self._spawn(name, argv)
        wait_until(f"redis {name}", lambda: self._ping(self.ports[name]), timeout=20)

    def _sentinel(self, index: int) -> None:
        node = self.dir / f"sentinel{index}"
        node.mkdir(parents=True, exist_ok=True)
        conf = node / "sentinel.conf"  # sentinels rewrite their file: one each, writable
        conf.write_text("\n".join([
            f"port {self.sentinel_ports[index]}", "bind 127.0.0.1", f"dir {node}",
            f"requirepass {self.password}",
            f"sentinel monitor {SERVICE} 127.0.0.1 {self.ports['a']} 2",
            f"sentinel auth-pass {SERVICE} {self.password}",
            f"sentinel down-after-milliseconds {SERVICE} 1000",
            f"sentinel failover-timeout {SERVICE} 5000",
            f"sentinel parallel-syncs {SERVICE} 1", "",
        ]))  # fmt: skip
        self._spawn(f"sentinel{index}", [_binary("redis-sentinel"), str(conf)])

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = open(self.dir / f"{name}.log", "ab")  # closed with the process
        self.procs[name] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)

    def client_at(self, port: int) -> redis.Redis:
        return redis.Redis(port=port, password=self.password, socket_connect_timeout=1,
                           socket_timeout=2)  # fmt: skip

    def _ping(self, port: int) -> bool:
        try:
            return self.client_at(port).ping()
        except redis.exceptions.RedisError:
            return False

    def start(self) -> None:
        self._server("a")
        self._server("b", replica_of=self.ports["a"])
        for i in range(3):
            self._sentinel(i)

        def settled():  # every sentinel sees the replica and the two other sentinels
            try:
                views = [self._master_view(p) for p in self.sentinel_ports]
            except redis.exceptions.RedisError:
                return False
            link = self.client_at(self.ports["b"]).info("replication")["master_link_status"]
            return (
                link == "up"
                and self.replica_acks(self.ports["a"])
                and all(
                    v[b"num-slaves"] == b"1" and v[b"num-other-sentinels"] == b"2" for v in views
                )
            )

        wait_until("sentinels to see the replica and each other", settled, timeout=30)

    def _master_view(self, port: int) -> dict:
        # Raw: redis-py 6.4's SENTINEL MASTER reply parser rejects its own options.
        flat = self.client_at(port).execute_command("SENTINEL", "MASTER", SERVICE)
        return dict(zip(flat[::2], flat[1::2], strict=True))

    def primary_port(self) -> int | None:
        """The primary's port as a majority of the sentinels names it (None while unsure)."""
        seen = []
        for port in self.sentinel_ports:
            try:
                addr = self.client_at(port).execute_command(
                    "SENTINEL", "GET-MASTER-ADDR-BY-NAME", SERVICE
                )
                seen.append(addr[1])
            except (redis.exceptions.RedisError, TypeError):
                continue
        best = max(set(seen), key=seen.count, default=None)
        return int(best) if best is not None and seen.count(best) >= 2 else None

    def name_of(self, port: int) -> str:
        return next(n for n, p in self.ports.items() if p == port)

    def kill(self, name: str) -> None:
        proc = self.procs.pop(name)
        proc.kill()
        proc.wait(10)

    def restart_as_replica(self, name: str, primary_port: int) -> None:
        self._server(name, replica_of=primary_port)

    def replica_acks(self, primary_port: int) -> bool:
        """Whether the primary counts a replica for WAIT. A replica reports its link up before
        the primary puts it online (after its first ACK, up to a second later), so a WAIT in
        that window still sees no replica."""
        primary = self.client_at(primary_port)
        primary.set("trainq:test:ack-probe", 1)
        return primary.wait(1, 200) >= 1

    def stop(self) -> None:
        for name in list(self.procs):
            proc = self.procs.pop(name)
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)


def wait_for_failover(cluster: SentinelRedis, old_port: int, timeout: float = 30) -> int:
    def promoted():
        port = cluster.primary_port()
        if port is None or port == old_port:
            return None
        try:
            role = cluster.client_at(port).info("replication")["role"]
        except redis.exceptions.RedisError:
            return None
        return port if role == "master" else None

    return wait_until("a sentinel failover", promoted, timeout=timeout, interval=0.1)
