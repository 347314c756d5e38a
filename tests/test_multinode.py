"""Two machines for real: two Linux network namespaces joined by a veth pair, each with its
own address, run the README's multi-node torchrun command across them (gloo over the veth).

Skipped, with the reason, where the machine forbids namespaces (not root, no `ip`)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

import deepworks

pytestmark = pytest.mark.slow


class TwoMachines:
    """Namespaces ``a`` (10.87.n.1, the rendezvous host) and ``b`` (10.87.n.2)."""

    def __init__(self, tag: int) -> None:
        self.names = (f"dw{tag}a", f"dw{tag}b")
        self.links = (f"dw{tag}va", f"dw{tag}vb")
        self.addresses = (f"10.87.{tag % 250}.1", f"10.87.{tag % 250}.2")

    def up(self) -> None:
        for ns in self.names:
            _ip("netns", "add", ns)
        _ip("link", "add", self.links[0], "type", "veth", "peer", "name", self.links[1])
        for ns, link, address in zip(self.names, self.links, self.addresses, strict=True):
            _ip("link", "set", link, "netns", ns)
            _ip("-n", ns, "addr", "add", f"{address}/24", "dev", link)
            _ip("-n", ns, "link", "set", link, "up")
            _ip("-n", ns, "link", "set", "lo", "up")

    def kill(self, node: int) -> None:
        """Machine ``node`` dies: every process in its namespace, at once."""
        pids = subprocess.run(
            ["ip", "netns", "pids", self.names[node]], capture_output=True, text=True
        ).stdout.split()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)

    def down(self) -> None:
        for ns in self.names:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)

    def torchrun(self, node: int, port: int, argv: list[str]) -> subprocess.Popen:
        """The README's command on machine ``node``, in a process group of its own."""
        command = [
            "ip", "netns", "exec", self.names[node],
            sys.executable, "-m", "torch.distributed.run",
            "--nnodes", "2", "--nproc-per-node", "1", "--node-rank", str(node),
            "--master-addr", self.addresses[0], "--master-port", str(port),
            "-m", "deepworks.cli", *argv,
        ]  # fmt: skip
        env = {**os.environ, "GLOO_SOCKET_IFNAME": self.links[node], "OMP_NUM_THREADS": "1"}
        return subprocess.Popen(
            command,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@pytest.fixture
def machines():
    if shutil.which("ip") is None or os.geteuid() != 0:
        pytest.skip("network namespaces need root and iproute2 (`ip`) on this machine")
    pair = TwoMachines(os.getpid() % 10_000)
    try:
        pair.up()
    except subprocess.CalledProcessError as exc:
        pair.down()
        pytest.skip(f"this machine forbids network namespaces: {exc.stderr.strip()}")
    yield pair
    pair.down()


def _config(tmp_path: Path, epochs: int) -> tuple[dict, Path]:
    raw = {
        "data": {"dataset": "digits", "batch_size": 20, "train_size": 1000},
        "model": {"name": "mlp", "hidden": [32], "dropout": 0.0},
        "train": {"epochs": epochs, "optimizer": {"name": "adam", "lr": 0.005}},
        "evaluate": {"baselines": False, "explain": 0},
    }
    path = tmp_path / "multinode.yaml"
    path.write_text(yaml.safe_dump(raw))
    return raw, path


def test_two_machines_train_as_one_process(tmp_path, machines):
    raw, config = _config(tmp_path, epochs=3)
    single = deepworks.run(raw, runs_dir=tmp_path / "one", threads=1, progress=False)
    argv = ["run", str(config), "--runs-dir", str(tmp_path / "two"), "-q"]
    nodes = [machines.torchrun(node, 29711, argv) for node in (0, 1)]
    outputs = [node.communicate(timeout=300) for node in nodes]
    for node, (_, err) in zip(nodes, outputs, strict=True):
        assert node.returncode == 0, err[-3000:]
    double = deepworks.load(outputs[0][0].strip().splitlines()[-1])
    assert double.info["processes"] == 2 and double.info["parameter_spread"] == 0.0
    a, b = load_file(single.folder.weights), load_file(double.folder.weights)
    for name in a:  # the same global batches, summed in another order
        assert torch.allclose(a[name], b[name], atol=1e-4), name


def test_a_machine_that_dies_stops_the_other_with_a_clear_message(tmp_path, machines):
    _, config = _config(tmp_path, epochs=2000)
    argv = ["run", str(config), "--runs-dir", str(tmp_path / "runs"), "-q"]
    nodes = [machines.torchrun(node, 29712, argv) for node in (0, 1)]
    checkpoints = tmp_path / "runs"
    deadline = time.monotonic() + 120
    while not list(checkpoints.glob("*/checkpoints/last.pt")):  # training is under way
        assert time.monotonic() < deadline, "training never started"
        assert nodes[0].poll() is None, nodes[0].communicate()[1][-3000:]
        time.sleep(0.5)
    machines.kill(1)  # machine b is gone, mid-epoch
    started = time.monotonic()
    _, err = nodes[0].communicate(timeout=180)  # never a hang
    assert time.monotonic() - started < 180
    assert nodes[0].returncode != 0
    assert "error: a training process on another machine stopped" in err, err[-3000:]
