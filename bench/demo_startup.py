"""Benchmark: how long `tso-bot demo` takes to start, and whether Ctrl-C stops it cleanly.

Starts `tso-bot demo --port <free>` as a subprocess N times on a fresh data folder (the
first start seeds the demo school), then once more on the same folder (a restart), and
measures the time until the school is ready: `GET /api/state` answers 200 (the page itself
answers as soon as the server listens, the state only once the bot and the personas are
up). Each run is then stopped with SIGINT, as Ctrl-C does, and checked: exit status 0, no
process left in its process group, the port closed.

Baselines, measured in the same run the same way: a bare aiohttp "hello" server started as
a subprocess until it answers 200, and `python -c "import tso_bot.cli"`. The ratios say
how much the demo costs beyond starting Python with the project's imports.

    .venv/bin/python bench/demo_startup.py [-n 5]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

TARGET = 3.0  # seconds: the bound for a start
POLL = 0.01
TIMEOUT = 60.0

HELLO_SERVER = """
import sys
from aiohttp import web
async def hello(request):
    return web.Response(text="hello")
app = web.Application()
app.router.add_get("/", hello)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
"""


@dataclass(frozen=True)
class Run:
    ready: float  # seconds from spawn to HTTP 200
    stop: float  # seconds from SIGINT to exit
    clean: bool
    problem: str = ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def wait_until_ready(process: subprocess.Popen[bytes], url: str, started: float) -> float:
    while not answers(url):
        if process.poll() is not None:
            raise RuntimeError(f"exited with status {process.returncode} before answering")
        if time.perf_counter() - started > TIMEOUT:
            raise RuntimeError(f"no answer from {url} after {TIMEOUT}s")
        time.sleep(POLL)
    return time.perf_counter() - started


def stop_cleanly(process: subprocess.Popen[bytes], port: int) -> tuple[float, bool, str]:
    """SIGINT, as Ctrl-C does; then exit 0, no process left in its group, port closed."""
    started = time.perf_counter()
    process.send_signal(signal.SIGINT)
    try:
        _, err = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        return time.perf_counter() - started, False, "did not stop on SIGINT"
    elapsed = time.perf_counter() - started
    problems = []
    if process.returncode != 0:
        problems.append(f"exit status {process.returncode}: {err.decode()[-300:]}")
    try:
        os.killpg(process.pid, 0)
        problems.append("a process of its group is still running")
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", port)) == 0:
            problems.append(f"port {port} still open")
    return elapsed, not problems, "; ".join(problems)


def run_server(command: list[str], port: int, path: str) -> Run:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TSO_")}
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group, to find anything left behind
    )
    try:
        ready = wait_until_ready(process, f"http://127.0.0.1:{port}{path}", started)
    except RuntimeError as exc:
        stop_cleanly(process, port)
        return Run(float("nan"), float("nan"), False, str(exc))
    stop, clean, problem = stop_cleanly(process, port)
    return Run(ready, stop, clean, problem)


def demo_command(port: int, data: Path) -> list[str]:
    return [sys.executable, "-m", "tso_bot.cli", "demo", "--port", str(port), "--data", str(data)]


def time_import() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import tso_bot.cli"], check=True)
    return time.perf_counter() - started


def summary(name: str, values: list[float]) -> str:
    return f"{name:<34} median {statistics.median(values):6.2f}s   max {max(values):6.2f}s"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=5, help="runs of each kind (default 5)")
    n = parser.parse_args().n

    hello = [run_server([sys.executable, "-c", HELLO_SERVER, str(p := free_port())], p, "/")
             for _ in range(n)]  # fmt: skip
    imports = [time_import() for _ in range(n)]
    first: list[Run] = []
    again: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="tso-demo-bench-") as tmp:
        for i in range(n):
            data = Path(tmp) / f"run{i}"
            first.append(run_server(demo_command(p := free_port(), data), p, "/api/state"))
            again.append(run_server(demo_command(p := free_port(), data), p, "/api/state"))

    runs = first + again
    failures = [r.problem for r in runs + hello if not r.clean]
    base_server = statistics.median(r.ready for r in hello)
    base_import = statistics.median(imports)
    demo_first = statistics.median(r.ready for r in first)
    print(f"tso-bot demo start-up, {n} runs each (time until the school is ready)")
    print(summary("first start (seeds the school)", [r.ready for r in first]))
    print(summary("restart (same data folder)", [r.ready for r in again]))
    print(summary("shutdown on SIGINT", [r.stop for r in runs]))
    print(summary("baseline: aiohttp hello server", [r.ready for r in hello]))
    print(summary("baseline: import tso_bot.cli", imports))
    print(f"ratio first start / aiohttp hello server: {demo_first / base_server:5.1f}x")
    print(f"ratio first start / import tso_bot.cli:   {demo_first / base_import:5.1f}x")
    slowest = max(r.ready for r in runs)
    verdict = "under" if slowest < TARGET else "OVER"
    print(f"slowest start {slowest:.2f}s: {verdict} the {TARGET:.0f} s target")
    clean = sum(r.clean for r in runs)
    print(f"clean shutdowns (exit 0, no process left, port closed): {clean}/{len(runs)}")
    for problem in failures:
        print(f"  problem: {problem}")
    return 0 if not failures and slowest < TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
