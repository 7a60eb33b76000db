"""trainq's Prometheus metrics, named `trainq_*` with Kueue's semantics (docs/observability.md):
`events` (counters and histograms, counted where each event happens, in whichever process),
`teams` (per-team and per-pool gauges read from Redis at scrape time, by the leading watcher
only), `serving` (the metrics port of a worker or watcher process). The API serves its own
through gunicorn's master (`wrapper.api.metrics`)."""
