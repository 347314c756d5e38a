"""Threads follow the CPUs a process may really use: its affinity, and a container's quota."""

import os

import pytest
import torch

from deepworks import runtime


def test_a_cgroup_quota_caps_the_threads(tmp_path, monkeypatch):
    (tmp_path / "cpu.max").write_text("150000 100000\n")  # `docker --cpus 1.5`
    assert runtime._cgroup_quota(tmp_path) == 1.5
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert runtime._cgroup_quota(tmp_path) is None
    (tmp_path / "cpu.max").unlink()
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("300000\n")  # cgroup v1
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert runtime._cgroup_quota(tmp_path) == 3.0
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    assert runtime._cgroup_quota(tmp_path) is None

    monkeypatch.setattr(runtime, "_cgroup_quota", lambda: 1.5)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    assert runtime.available_cpus() == 1  # a quota of 1.5 CPUs: one thread, not four
    monkeypatch.setattr(runtime, "_cgroup_quota", lambda: None)
    assert runtime.available_cpus() == 4


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
