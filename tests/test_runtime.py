"""Threads follow the CPUs a process may really use: its affinity, and a container's quota."""

import os

import pytest
import torch

from deepworks import runtime
from deepworks.core import cpus


def test_a_cgroup_quota_caps_the_threads(tmp_path, monkeypatch):
    (tmp_path / "cpu.max").write_text("150000 100000\n")  # `docker --cpus 1.5`
    assert cpus._cgroup_quota(tmp_path) == 1.5
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert cpus._cgroup_quota(tmp_path) is None
    (tmp_path / "cpu.max").unlink()
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("300000\n")  # cgroup v1
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert cpus._cgroup_quota(tmp_path) == 3.0
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    assert cpus._cgroup_quota(tmp_path) is None

    monkeypatch.setattr(cpus, "_cgroup_quota", lambda: 1.5)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    assert cpus.available_cpus() == 1  # a quota of 1.5 CPUs: one thread, not four
    monkeypatch.setattr(cpus, "_cgroup_quota", lambda: None)
    assert cpus.available_cpus() == 4


def test_the_default_threads_are_the_cpus_of_this_process(monkeypatch):
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(4)  # torch's own count: the host's cores
        monkeypatch.setattr(runtime, "available_cpus", lambda: 1)
        runtime.set_threads(None)
        assert torch.get_num_threads() == 1  # a quota of one CPU: one thread
        monkeypatch.setattr(runtime, "available_cpus", lambda: 8)
        runtime.set_threads(None)
        assert torch.get_num_threads() == 1  # never raised over what the caller chose
        runtime.set_threads(2)
        assert torch.get_num_threads() == 2
        with pytest.raises(Exception, match="positive number of CPU threads"):
            runtime.set_threads(0)
    finally:
        torch.set_num_threads(before)


def test_the_default_threads_leave_busy_cores_to_the_processes_keeping_them_busy():
    import subprocess
    import sys

    n = cpus.available_cpus()
    if n < 2:
        pytest.skip("one CPU: the default is one thread whatever else runs")
    spin = "import time\nend = time.time() + 20\nwhile time.time() < end: pass"
    spinners = [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(n)]
    before = torch.get_num_threads()
    try:
        cpus.idle_cpus(window=0.3)  # a look once the spinners run
        assert cpus.idle_cpus(window=0.5) < 0.75  # every core taken by someone else
        torch.set_num_threads(n)
        runtime.set_threads(None)
        assert torch.get_num_threads() == 1
    finally:
        for spinner in spinners:
            spinner.kill()
        torch.set_num_threads(before)
