"""`python -m wrapper.cli` runs the `trainq` command (without installing the project)."""

from wrapper.cli.app import app

app(prog_name="trainq")
