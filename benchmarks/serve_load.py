"""Load on `deepworks serve` over loopback: requests/s, latency p50 / p99 and errors.

Trains the breast-cancer MLP (or takes `--run`), then serves it twice — in PyTorch, then
exported to ONNX — each time as a real `deepworks serve` process with a bearer token, and sends
`--requests` single-row POST /predict requests, `--concurrency` at a time, with real test rows.
A last round mixes in malformed requests (`--bad-fraction`, a text in a numeric cell): they must
get their 422 without slowing the good ones (target: within 20 % of the clean throughput).

    python benchmarks/serve_load.py --requests 5000 --concurrency 32
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import machine, markdown_table, write_section

import deepworks

TOKEN = "load-test-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(run: Path, port: int, threads: int, max_batch: int) -> subprocess.Popen:
    exe = Path(sys.executable).with_name("deepworks")
    env = {**os.environ, "DEEPWORKS_TOKEN": TOKEN}
    cmd = [str(exe), "serve", str(run), "--port", str(port), "--threads", str(threads)]
    cmd += ["--max-batch", str(max_batch)]
    # Its log goes to a file: a pipe nobody reads fills up, and then the server waits on it.
    log = open(Path(tempfile.gettempdir()) / f"serve-load-{port}.log", "w")  # noqa: SIM115
    return subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)


async def wait_ready(url: str, seconds: float = 60) -> None:
    import aiohttp

    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(f"{url}/health") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


async def drive(
    url: str, rows: list[dict], n: int, concurrency: int, bad_fraction: float = 0.0
) -> dict[str, float]:
    """``n`` requests, at most ``concurrency`` in flight; bounded by construction. Every
    ``1 / bad_fraction``-th request carries a bad cell and must get 422; any other answer is an
    error. (aiohttp: httpx's client tops out near 300 requests/s here, below the server.)"""
    import aiohttp

    latencies: list[float] = []
    errors = 0
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(i)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=30)
    bad_every, first = (round(1 / bad_fraction) if bad_fraction else 0), next(iter(rows[0]))

    async with aiohttp.ClientSession(headers=headers, connector=connector, timeout=timeout) as s:

        async def worker() -> None:
            nonlocal errors
            while not queue.empty():
                i = queue.get_nowait()
                row, expected = rows[i % len(rows)], 200
                if bad_every and i % bad_every == 0:
                    row, expected = {**row, first: "not a number"}, 422
                start = time.perf_counter()
                try:
                    async with s.post(f"{url}/predict", json=row) as response:
                        await response.read()
                        errors += response.status != expected
                except aiohttp.ClientError:
                    errors += 1
                latencies.append((time.perf_counter() - start) * 1e3)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - start
        async with s.get(f"{url}/metadata") as response:
            meta = await response.json()
    return {
        "rps": n / seconds,
        "p50": float(np.percentile(latencies, 50)),
        "p99": float(np.percentile(latencies, 99)),
        "errors": errors,
        "runtime": meta["runtime"],
        "per_batch": meta["micro_batches"]["requests"] / max(meta["micro_batches"]["batches"], 1),
    }


def load_test(
    run: Path, rows: list[dict], args, max_batch: int = 64, bad_fraction: float = 0.0
) -> dict[str, float]:
    port = free_port()
    server = start_server(run, port, args.threads, max_batch)
    try:
        url = f"http://127.0.0.1:{port}"
        asyncio.run(wait_ready(url))
        return asyncio.run(drive(url, rows, args.requests, args.concurrency, bad_fraction))
    finally:
        server.terminate()
        server.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--run", help="A finished run (default: train breast-cancer's MLP).")
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="The server's inference threads.")
    parser.add_argument("--bad-fraction", type=float, default=0.1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.run:
            source = deepworks.load(args.run)
        else:
            source = deepworks.run("examples/breast-cancer.yaml", runs_dir=tmp, progress=False)
        run = Path(tmp) / "served"
        shutil.copytree(source.path, run, ignore=shutil.ignore_patterns("export", "deployment*"))
        from deepworks.catalog import load_config
        from deepworks.tasks import load_data

        cfg = load_config(run / "config.yaml")
        test = load_data(cfg.data, cfg.task, cfg.seed).test_rows
        rows = test.drop(columns=[cfg.data.target or "target"], errors="ignore")
        rows = [{k: (None if v != v else v) for k, v in r.items()} for r in rows.to_dict("records")]
        results = {"pytorch": load_test(run, rows, args)}
        subprocess.run(
            [str(Path(sys.executable).with_name("deepworks")), "export", str(run), "--no-int8"],
            check=True,
            capture_output=True,
        )
        results["onnxruntime"] = load_test(run, rows, args)
        results["no batching"] = load_test(run, rows, args, max_batch=1)
        results["no batching"]["runtime"] += ", no micro-batching"
        results["bad"] = load_test(run, rows, args, bad_fraction=args.bad_fraction)
        results["bad"]["runtime"] += f", {args.bad_fraction:.0%} malformed requests"
    clean, bad = results["onnxruntime"]["rps"], results["bad"]["rps"]
    verdict = (
        f"With {args.bad_fraction:.0%} malformed requests (each answered 422) the server keeps "
        f"{bad / clean:.0%} of its clean throughput (target: at least 80 %)."
    )
    table = markdown_table(
        ["runtime", "requests", "concurrency", "requests/s", "p50 ms", "p99 ms", "errors",
         "requests per model call"],
        [
            [
                r["runtime"],
                str(args.requests),
                str(args.concurrency),
                f"{r['rps']:.0f}",
                f"{r['p50']:.1f}",
                f"{r['p99']:.1f}",
                str(r["errors"]),
                f"{r['per_batch']:.1f}",
            ]
            for r in results.values()
        ],
    )  # fmt: skip
    print(table, verdict, sep="\n\n")
    write_section(
        "serve-load",
        "## Serving under load\n\n"
        f"`python benchmarks/serve_load.py --requests {args.requests} --concurrency "
        f"{args.concurrency}` on {machine()}: the breast-cancer MLP behind `deepworks serve` "
        f"({args.threads} inference thread), single-row JSON POST /predict over loopback with a "
        "bearer token; the load generator shares the machine. Micro-batching groups concurrent "
        "requests into one model call (last column). Errors count any answer other than the "
        "expected one (200, or 422 for a malformed request).\n\n" + table + "\n\n" + verdict,
    )


if __name__ == "__main__":
    main()
