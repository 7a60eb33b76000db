"""The stalled-run decision (pure): a running job that reported no progress for its team's
`alerts.stall_after_seconds`, or that reported a non-finite loss, is stalled. Once per stall:
a stall is keyed by the progress it is measured from, so a job that reports again and then
stalls again alerts again, and a job already alerted for this progress does not."""

NO_PROGRESS, NON_FINITE_LOSS = "NoProgress", "NonFiniteLoss"


def stall(
    now: float,
    running_since: float | None,
    reported_at: float | None,
    non_finite: dict | None,
    stall_after: float,
    previous: dict | None,
) -> dict | None:
    """The new stall to record and announce, else None. `previous`: the stall already on the
    record; `running_since`: when the job last started running (epoch seconds)."""
    if non_finite is not None:
        key = f"{NON_FINITE_LOSS}:{non_finite.get('epoch')}:{non_finite.get('metric')}"
        if previous and previous.get("key") == key:
            return None
        where = f" at epoch {non_finite['epoch']}" if non_finite.get("epoch") is not None else ""
        message = f"{non_finite.get('metric')} is {non_finite.get('value')}{where}"
        return {"key": key, "reason": NON_FINITE_LOSS, "since": reported_at, "message": message}
    if stall_after <= 0:
        return None
    # Progress counts from the last report, or from the start of this run if none came since.
    times = [t for t in (reported_at, running_since) if t is not None]
    since = max(times) if times else None
    if since is None or now - since < stall_after:
        return None
    key = f"{NO_PROGRESS}:{since!r}"
    if previous and previous.get("key") == key:
        return None
    return {"key": key, "reason": NO_PROGRESS, "since": since,
            "message": f"no progress reported for {now - since:.0f}s (alerts.stall_after_seconds: "
                       f"{stall_after:g})"}  # fmt: skip
