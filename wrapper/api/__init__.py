"""The HTTP front door: `app` (the factory), one blueprint per resource (`jobs`, `queues`,
`algorithms`, `train` for the MiniAutoML surface, `health`, `metrics`, `openapi`), each route
declared once in `routes`; `auth`, `bodies`, `errors` (problem+json), `records` (what a job
record shows), `schemas` (request and response models). Nothing below this package imports
Flask."""
