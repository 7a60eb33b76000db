"""Amounts of cluster resources (cpu, memory, gpu) and how a person reads them: what a job
asks for, a team's quota and usage, a pool's capacity. Plain ints, so that the admission policy
compares and sums them exactly."""

import math
from dataclasses import dataclass
from decimal import Decimal

from wrapper.validation import k8s_names as kubenames

RESOURCES = ("cpu", "memory", "gpu")
REPORTED = ("gpu", "cpu", "memory")  # which shortage a message names first
UNLIMITED = 2**62


@dataclass(frozen=True)
class Res:
    """An amount of cluster resources: cpu in millicores, memory in bytes, whole gpus."""

    cpu: int = 0
    memory: int = 0
    gpu: int = 0

    def __add__(self, o: "Res") -> "Res":
        return Res(self.cpu + o.cpu, self.memory + o.memory, self.gpu + o.gpu)

    def __sub__(self, o: "Res") -> "Res":
        return Res(self.cpu - o.cpu, self.memory - o.memory, self.gpu - o.gpu)

    def scale(self, n: int) -> "Res":
        return Res(self.cpu * n, self.memory * n, self.gpu * n)

    def get(self, name: str) -> int:
        return getattr(self, name)

    def floor0(self) -> "Res":
        return Res(max(self.cpu, 0), max(self.memory, 0), max(self.gpu, 0))

    def minimum(self, o: "Res") -> "Res":
        return Res(min(self.cpu, o.cpu), min(self.memory, o.memory), min(self.gpu, o.gpu))

    def exceeding(self, limit: "Res") -> list[str]:
        """The resources where self is above limit."""
        if self.cpu <= limit.cpu and self.memory <= limit.memory and self.gpu <= limit.gpu:
            return []
        return [r for r in REPORTED if self.get(r) > limit.get(r)]

    def fits_in(self, avail: "Res") -> bool:
        """Every resource asked for (non-zero) is available."""
        return (
            (self.cpu == 0 or self.cpu <= avail.cpu)
            and (self.memory == 0 or self.memory <= avail.memory)
            and (self.gpu == 0 or self.gpu <= avail.gpu)
        )

    @classmethod
    def parse(cls, cpu: str | None, memory: str | None, gpu: int | None) -> "Res":
        def amount(q: str | None, scale: int) -> int:
            return UNLIMITED if q is None else math.ceil(kubenames.quantity(q) * scale)

        return cls(amount(cpu, 1000), amount(memory, 1), UNLIMITED if gpu is None else int(gpu))


def replica_request(spec: dict) -> Res:
    """One replica's request (the Master and each Worker ask for spec.resources)."""
    r = spec["resources"]
    return Res.parse(r["cpu"], r["memory"], r.get("gpu") or 0)


def demand(spec: dict) -> Res:
    """The whole job's request: 1 Master + spec.workers Workers, each spec.resources."""
    return replica_request(spec).scale(1 + spec["workers"])


def fmt(resource: str, value: int) -> str:
    """An amount as a person reads it: cores, Gi/Mi, gpus."""
    if value >= UNLIMITED:
        return "unlimited"
    if resource == "cpu":
        return (
            f"{Decimal(value) / 1000:f}".rstrip("0").rstrip(".")
            if value % 1000
            else str(value // 1000)
        )
    if resource == "memory":
        for unit, size in (("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
            if value >= size:
                text = f"{value / size:.1f}".removesuffix(".0")
                return f"{text}{unit}"
        return str(value)
    return str(value)


def fmt_res(resource: str, value: int) -> str:
    return f"{fmt(resource, value)} {resource}"
