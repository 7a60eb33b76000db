"""Writes trainq's configuration file (TRAINQ_CONFIG) from its two sources and validates it.

Run by the `config` init container of every trainq pod, in the trainq image:
    python assemble-config.py <config.yaml> <tokens dir> <output>
- <config.yaml>: the team configuration without tokens (the ConfigMap);
- <tokens dir>: the token Secret mounted as files: `team.<team name>` and `admin`, each holding
  hex SHA-256 digests of bearer tokens, one per line (a missing file means none);
- <output>: where the merged file is written (an emptyDir shared with the main container).
The result is checked with trainq's own loader, so a bad value stops the pod here with a
message naming the key, before any trainq process starts.
"""

import sys
from pathlib import Path

import yaml

from wrapper.config import ConfigError, load_config


def hashes(tokens: Path, key: str) -> list[str]:
    path = tokens / key
    return path.read_text().split() if path.is_file() else []


def main(source: str, tokens_dir: str, output: str) -> int:
    config = yaml.safe_load(Path(source).read_text())
    tokens = Path(tokens_dir)
    for team in config.get("teams") or []:
        team["token_sha256"] = hashes(tokens, f"team.{team['name']}")
    config["admin_token_sha256"] = hashes(tokens, "admin")
    Path(output).write_text(yaml.safe_dump(config, sort_keys=False))
    try:
        load_config(output)
    except ConfigError as exc:
        print(f"trainq: {exc}", file=sys.stderr)
        return 2
    print(f"trainq: configuration for {len(config['teams'])} team(s) written to {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:4]))
