"""Input errors and the exit codes they end the process with.

Every code is in 1..127: under the PyTorchJob `restartPolicy: ExitCode` the operator fails the job
instead of restarting the pod, which is right because a rerun with the same input fails the same
way. A crash by signal (SIGKILL, OOM kill) keeps its code of 128 + signal, which is retried.
"""

EXIT_CONFIG = 2
EXIT_DATA = 3
EXIT_CHECKPOINT = 4
# The one deliberate retryable code (>= 128): another rank vanished (its pod was killed, its node
# lost). The operator restarts the pods and the new run resumes from the last checkpoint, where a
# plain RuntimeError's exit code 1 would have failed the whole job.
EXIT_PEER_LOST = 200
# Stopped on SIGTERM after writing a checkpoint (stopping.py): 128 + SIGTERM, what a process
# killed by it reports, so everything reads it as "terminated". Never 0, which would mark the
# PyTorchJob Succeeded; >= 128, so under restartPolicy ExitCode (and OnFailure) a rank stopped
# because another was signalled is restarted and resumes, and a suspended job's pods are deleted
# anyway.
EXIT_TERMINATED = 143


class TrainerError(Exception):
    """An input problem reported as one line on stderr, without a traceback."""

    exit_code = 1

    def __str__(self) -> str:
        # One line whatever the message holds, so a log scraper sees the whole reason.
        return super().__str__().replace("\r", " ").replace("\n", " ")


class ConfigError(TrainerError):
    exit_code = EXIT_CONFIG


class DataError(TrainerError):
    exit_code = EXIT_DATA


class CheckpointError(TrainerError):
    exit_code = EXIT_CHECKPOINT
