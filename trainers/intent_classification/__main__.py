"""Entry point: `python -m trainers.intent_classification` (the trainer image's entrypoint).

Checks the whole input (env, data files, output directories) before importing torch, so a bad
value costs milliseconds and ends with one line on stderr and a non-retryable exit code.
"""

import os
import sys
import warnings

from . import config, data
from .errors import EXIT_PEER_LOST, EXIT_TERMINATED, ConfigError, TrainerError


def main() -> int:
    try:
        cfg = config.from_env(os.environ)
        prepared = data.prepare(data.load(cfg.data_dir))
        if cfg.is_main:
            _ready_output_dirs(cfg)
        # torch warns at import when numpy is absent; the trainer never uses numpy.
        warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
        from .distributed import is_peer_failure  # deferred: importing torch takes seconds
        from .train import run

        try:
            if not run(cfg, prepared):
                return EXIT_TERMINATED  # stopped on SIGTERM, checkpoint written
        except RuntimeError as err:
            if not is_peer_failure(err):
                raise
            reason = (str(err).splitlines() or [type(err).__name__])[0]
            print(
                f"error: lost contact with another rank ({reason}); exit code {EXIT_PEER_LOST} "
                "asks the operator to restart the job, which resumes from its last checkpoint",
                file=sys.stderr,
                flush=True,
            )
            return EXIT_PEER_LOST
    except TrainerError as err:
        print(f"error: {err}", file=sys.stderr, flush=True)
        return err.exit_code
    return 0


def _ready_output_dirs(cfg: config.TrainConfig) -> None:
    for name, directory in (("MODEL_DIR", cfg.model_dir), ("CHECKPOINT_DIR", cfg.checkpoint_dir)):
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise ConfigError(
                f"{name}={str(directory)!r}: cannot create ({err.strerror})"
            ) from None
        if not os.access(directory, os.W_OK):
            raise ConfigError(f"{name}={str(directory)!r} is not writable")


if __name__ == "__main__":
    sys.exit(main())
