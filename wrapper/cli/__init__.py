"""`trainq`, the command-line client (docs/cli.md). It speaks to trainq only over HTTP, as any
other client would: it imports nothing of the server (tests/unit/test_layering.py).

`app` (typer) wires the command groups, one module each: `jobs` (submit, cancel, suspend,
resume), `status` (a job, `--watch` over the event stream), `logs`, `queue`, `runs`,
`algorithms`; `settings` finds the server and token, `client` makes the calls, `errors` turns
problems into messages and exit codes, `render` holds the shared rich pieces."""
