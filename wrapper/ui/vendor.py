"""Fetches the dashboard's front-end dependencies reproducibly: for each package pinned in
`vendor.json`, `npm pack name@version` (the npm client, into a scratch directory), the tarball's
sha512 checked against the pinned integrity, then each listed file's sha256, written under
`static/vendor/`. `--check` only verifies the copies there (what a unit test runs).

    python -m wrapper.ui.vendor          # make ui-vendor
    python -m wrapper.ui.vendor --check
"""

import base64
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
LOCK = HERE / "vendor.json"
VENDOR = HERE / "static" / "vendor"


def packages() -> list[dict]:
    return json.loads(LOCK.read_text())["packages"]


def problems() -> list[str]:
    """What differs between the vendored copies and the lock (empty: all match)."""
    out = []
    for pkg in packages():
        for member, want in pkg["files"].items():
            path = VENDOR / want["to"]
            if not path.is_file():
                out.append(f"{path.name}: missing (make ui-vendor)")
            elif hashlib.sha256(path.read_bytes()).hexdigest() != want["sha256"]:
                out.append(f"{path.name}: not {pkg['name']}@{pkg['version']}'s {member}")
    return out


def _integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def fetch(pkg: dict, scratch: Path) -> None:
    spec = f"{pkg['name']}@{pkg['version']}"
    listing = subprocess.run(["npm", "pack", spec, "--json", "--pack-destination", str(scratch)],
                             check=True, capture_output=True, text=True, cwd=scratch)  # fmt: skip
    tarball = scratch / json.loads(listing.stdout)[0]["filename"]
    data = tarball.read_bytes()
    if _integrity(data) != pkg["integrity"]:
        raise SystemExit(f"{spec}: the tarball's sha512 is not the pinned integrity")
    with tarfile.open(tarball) as archive:
        for member, want in pkg["files"].items():
            content = archive.extractfile(member).read()
            if hashlib.sha256(content).hexdigest() != want["sha256"]:
                raise SystemExit(f"{spec}: {member} is not the pinned file")
            (VENDOR / want["to"]).write_bytes(content)
    print(f"{spec}: {len(pkg['files'])} files verified into {VENDOR}")


def main(argv: list[str]) -> int:
    if "--check" not in argv:
        VENDOR.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as scratch:
            for pkg in packages():
                fetch(pkg, Path(scratch))
    found = problems()
    for line in found:
        print(line, file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
