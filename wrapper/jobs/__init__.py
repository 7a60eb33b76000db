"""Jobs and their team queues: `submission` (the one submission use case every HTTP surface
calls), `cancellation`, `store` (job records; every status change through the state table in
`states`), `queues` (the per-team RQ queues), `leases` (dispatches whose worker died)."""
