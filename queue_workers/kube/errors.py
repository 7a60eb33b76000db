"""Telling the apiserver's errors apart for dispatch and the watcher: transient (retry with
backoff) or permanent (fail the job with a message naming the fix), and the few outcomes
callers act on (a watch too old, a write that lost a race, a name taken by another job)."""

import json

import urllib3
from kubernetes.client.rest import ApiException

# 401 (credentials being rotated), 409 (a namespace terminating), 408/429 and 5xx pass with
# time; so does a 403 for an exhausted ResourceQuota. Any other 403 (RBAC) or a 404 (the
# namespace or the PyTorchJob CRD missing after trainq tried to create the namespace) waits for
# an operator: retrying would only hold the job, so it fails with a message naming the fix.
# 400/422 and the rest of 4xx mean the object itself is refused.
_TRANSIENT_STATUSES = {0, 401, 408, 409, 429}


class ResourceExpired(Exception):
    """A watch's resourceVersion is older than the apiserver keeps (410 Gone): relist."""


class Conflict(Exception):
    """Another writer changed (or created) the object first (409): our write did not happen."""


class NotOurs(Exception):
    """A PyTorchJob (or TrainJob) with the job's name exists but was made for another job: never
    adopted."""


def _quota_exhausted(exc: ApiException) -> bool:
    return exc.status == 403 and "exceeded quota" in (exc.body or "")


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, ApiException):
        return (exc.status in _TRANSIENT_STATUSES or (exc.status or 0) >= 500
                or _quota_exhausted(exc))  # fmt: skip
    return isinstance(exc, (urllib3.exceptions.HTTPError, OSError, TimeoutError))


def permanent_message(exc: BaseException, namespace: str) -> str:
    """A permanent error's message for the job record: the apiserver's words, and for what an
    operator must fix (403, 404) what to do."""
    message = error_message(exc)
    if isinstance(exc, ApiException) and exc.status == 403:
        return (f"{message} -- the apiserver refused trainq's service account: grant it "
                f"create/get/patch/delete on pytorchjobs.kubeflow.org (and trainjobs.trainer."
                f"kubeflow.org for teams on Trainer v2; get on namespaces) "
                f"in namespace {namespace} (the chart's RBAC), then resubmit the job")  # fmt: skip
    if isinstance(exc, ApiException) and exc.status == 404:
        return (f"{message} -- namespace {namespace} or the PyTorchJob CRD "
                f"(pytorchjobs.kubeflow.org/v1) does not exist and trainq could not create it: "
                f"create the namespace (kubectl create namespace {namespace}) or install the "
                f"Kubeflow training operator, then resubmit the job")  # fmt: skip
    return message


def error_message(exc: BaseException) -> str:
    """The apiserver's own message when there is one."""
    if isinstance(exc, ApiException):
        try:
            body = json.loads(exc.body or "")
            if isinstance(body, dict) and body.get("message"):
                return f"{exc.status} {body.get('reason') or exc.reason}: {body['message']}"
        except (TypeError, ValueError):
            pass
        return f"{exc.status} {exc.reason}"
    return f"{type(exc).__name__}: {exc}"
