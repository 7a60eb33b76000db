#!/usr/bin/env python3
"""Generates the two Secrets the kustomize base needs and ships without (docs/security.md):
    python3 k8s/base/generate-secrets.py TOKENS_FILE TEAM... | kubectl apply -f -
- trainq-tokens: hex SHA-256 digests of a new random bearer token per team (`team.<name>`) and
  one admin token (`admin`); the plain tokens are written to TOKENS_FILE (mode 0600, never
  overwritten) for you to hand out, and exist nowhere else;
- trainq-redis: a random Redis password, as the server's `redis.conf` (requirepass) and as the
  `url` every trainq process connects with.
Standard library only; prints a v1 List (JSON) on stdout. --namespace / --redis-host match an
overlay that renames them."""

import argparse
import hashlib
import json
import os
import re
import secrets
import sys


def secret(name: str, namespace: str, data: dict[str, str]) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace,
                     "labels": {"app.kubernetes.io/part-of": "trainq"}},
        "type": "Opaque",
        "stringData": data,
    }  # fmt: skip


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def generate(teams: list[str], namespace: str, redis_host: str) -> tuple[dict, dict[str, str]]:
    """The List of both Secrets, and the plain tokens by key."""
    tokens = {f"team.{t}": secrets.token_urlsafe(32) for t in teams}
    tokens["admin"] = secrets.token_urlsafe(32)
    password = secrets.token_hex(32)  # hex: nothing to escape in a URL or redis.conf
    redis = {
        "password": password,
        "url": f"redis://:{password}@{redis_host}:6379/0",
        "redis.conf": f"requirepass {password}\n",
    }
    items = [
        secret("trainq-tokens", namespace, {k: digest(v) for k, v in tokens.items()}),
        secret("trainq-redis", namespace, redis),
    ]
    return {"apiVersion": "v1", "kind": "List", "items": items}, tokens


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("tokens_file", help="where the plain tokens are written (must not exist)")
    parser.add_argument("teams", nargs="+", help="team names, as in config.yaml")
    parser.add_argument("--namespace", default="trainq")
    parser.add_argument("--redis-host", default="trainq-redis")
    args = parser.parse_args(argv)
    bad = [t for t in args.teams if not re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", t)]
    if bad:
        parser.error(f"not a team name: {', '.join(bad)}")
    manifest, tokens = generate(args.teams, args.namespace, args.redis_host)
    try:  # exclusive create: an existing file (tokens handed out already) is never replaced
        fd = os.open(args.tokens_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        print(f"{args.tokens_file} exists: choose a new file", file=sys.stderr)
        return 1
    with os.fdopen(fd, "w") as out:
        out.writelines(f"{key} {token}\n" for key, token in tokens.items())
    json.dump(manifest, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
