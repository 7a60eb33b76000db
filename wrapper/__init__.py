"""trainq's HTTP front door and the state it shares with the queue workers.

Everything that both the API and the workers need (configuration, Redis key names, the job
state machine, job record reads/writes) lives here; `queue_workers` imports from this package,
never the other way round.
"""
