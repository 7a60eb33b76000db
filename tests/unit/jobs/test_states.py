import itertools

from wrapper.jobs.states import ALLOWED, TERMINAL, JobStatus, can_transition, is_terminal

S = JobStatus


def test_every_status_has_a_row():
    assert set(ALLOWED) == set(JobStatus)


def test_terminal_statuses_only_refresh_themselves():
    for status in TERMINAL:
        assert ALLOWED[status] <= {status}
    assert ALLOWED[S.CANCELLED] == frozenset()
    assert is_terminal("succeeded") and not is_terminal("running")


def test_the_lifecycle_paths_of_the_issue_are_legal():
    path = [S.QUEUED, S.DISPATCHING, S.CREATED, S.RUNNING, S.RESTARTING, S.RUNNING, S.SUCCEEDED]
    for a, b in itertools.pairwise(path):
        assert can_transition(a, b), (a, b)
    assert can_transition(S.QUEUED, S.CANCELLED)  # cancel while queued
    assert can_transition(S.RUNNING, S.CANCELLING) and can_transition(S.CANCELLING, S.CANCELLED)
    assert can_transition(S.DISPATCHING, S.FAILED)  # permanent creation error
    assert can_transition(S.RUNNING, S.CANCELLED)  # PyTorchJob deleted outside trainq


def test_illegal_moves_are_refused():
    assert not can_transition(S.QUEUED, S.RUNNING)  # must be dispatched first
    assert not can_transition(S.SUCCEEDED, S.RUNNING)
    assert not can_transition(S.FAILED, S.CANCELLED)
    assert not can_transition(S.RUNNING, S.CREATED)  # never backwards
    assert not can_transition(S.CANCELLING, S.RUNNING)
    assert not can_transition(S.CANCELLED, S.QUEUED)


def test_every_status_is_reachable_from_queued():
    seen, frontier = {S.QUEUED}, [S.QUEUED]
    while frontier:
        for nxt in ALLOWED[frontier.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                frontier.append(nxt)
    assert seen == set(JobStatus)


def test_a_dispatched_job_whose_pods_were_not_ready_may_go_back_to_its_queue():
    for status in (S.CREATED, S.RUNNING, S.RESTARTING):
        assert can_transition(status, S.QUEUED), status
    for status in (S.DISPATCHING, S.CANCELLING, *TERMINAL):
        assert not can_transition(status, S.QUEUED), status
    # Cancelling a re-queued job deletes its suspended PyTorchJob first.
    assert can_transition(S.QUEUED, S.CANCELLING)


def test_a_team_may_suspend_a_waiting_or_dispatched_job_and_resume_it():
    for status in (S.QUEUED, S.CREATED, S.RUNNING, S.RESTARTING):
        assert can_transition(status, S.SUSPENDED)
    for status in (S.DISPATCHING, S.CANCELLING, *TERMINAL):
        assert not can_transition(status, S.SUSPENDED)
    assert can_transition(S.SUSPENDED, S.QUEUED)  # resumed: back in its queue
    assert can_transition(S.SUSPENDED, S.CANCELLED) and can_transition(S.SUSPENDED, S.CANCELLING)
    for status in (S.DISPATCHING, S.RUNNING, S.SUCCEEDED, S.FAILED):
        assert not can_transition(S.SUSPENDED, status)  # only through the queue
    assert S.SUSPENDED not in TERMINAL
