"""gunicorn entry point: `gunicorn -c wrapper/gunicorn.conf.py wrapper.wsgi:app`.
A bad TRAINQ_CONFIG stops the process here with a message naming the bad key."""

import logging

from wrapper.api.app import create_app
from wrapper.config import load_or_exit

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
settings, config = load_or_exit()
app = create_app(config, settings)
