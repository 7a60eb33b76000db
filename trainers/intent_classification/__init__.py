"""Intent classification: an embedding-bag text classifier trained with DDP from env config.

Run as `python -m trainers.intent_classification`; see config.py for the environment it reads.
"""

ALGORITHM = "intent-classification"
