"""The dispatch benchmark's CPU accounting (benchmarks/cpushare.py), on this process's own
/proc entry."""

import os
import subprocess
import sys
import time

from benchmarks import cpushare


def test_the_meter_reads_a_groups_cpu_as_it_grows():
    meter = cpushare.CpuMeter({"me": [os.getpid()], "gone": [2**22 + 1]})
    before = meter.read()
    end = time.process_time() + 0.2
    while time.process_time() < end:  # burn 0.2 s of CPU
        pass
    after = meter.read()
    assert after["me"] - before["me"] >= 0.15
    assert before["gone"] == after["gone"] == 0  # a process that is not there counts nothing


def test_a_group_counts_the_cpu_of_its_live_children():
    """As gunicorn's workers count under its arbiter: a child that burned CPU and still runs."""
    burn = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass\n"
    child = subprocess.Popen([sys.executable, "-c", burn + "print('done', flush=True)\n"
                              "time.sleep(30)"], stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        meter = cpushare.CpuMeter({"me": [os.getpid()], "child": [child.pid]})
        before = meter.read()
        assert child.stdout.readline().strip() == "done"
        after = meter.read()
        assert after["child"] - before["child"] >= 0.2
        assert after["me"] - before["me"] >= 0.2  # (the child's burn counts in our tree)
    finally:
        child.kill()
        child.wait()


def test_per_job_divides_each_group_and_counts_the_cores_in_use():
    first = {"trainq": 1.0, "apiserver": 2.0}
    last = {"trainq": 1.5, "apiserver": 4.0}
    out = cpushare.per_job(first, last, seconds=2.0, jobs=100)
    assert out["ms_per_job"] == {"trainq": 5.0, "apiserver": 20.0}
    assert out["total_ms_per_job"] == 25.0
    assert out["cores_busy"] == 1.25  # 2.5 CPU-seconds over 2 s
    assert cpushare.per_job(first, last, seconds=0.0, jobs=100) == {}
    assert cpushare.per_job(first, last, seconds=2.0, jobs=0) == {}


def test_the_control_plane_pids_come_from_the_local_pid_files(tmp_path, monkeypatch):
    (tmp_path / "kube-apiserver.pid").write_text("123\n")
    (tmp_path / "etcd.pid").write_text("not a pid")
    monkeypatch.setenv("TRAINQ_RUN", str(tmp_path))
    assert cpushare.control_plane_pids() == {"kube-apiserver": [123]}
