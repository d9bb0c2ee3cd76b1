"""Issue 3, must show 3 (the part that is a test): `tso-bot demo` as a real process starts,
serves the page, keeps its school across a restart, and stops cleanly on Ctrl-C and on
SIGTERM, leaving no process and no open port behind."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import pytest

from tso_bot.sandbox.demo import DB_NAME

TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_is_closed(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


async def start(data: Path, port: int) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TSO_")}
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tso_bot.cli",
        "demo",
        "--port",
        str(port),
        "--data",
        str(data),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,  # its own process group: we can tell whether any is left
    )


async def banner(process: asyncio.subprocess.Process) -> str:
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), TIMEOUT)
    return line.decode()


async def state(port: int) -> dict[str, object]:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{port}/") as page:
            assert page.status == 200
            assert "TSO bot" in await page.text()
        async with http.get(f"http://127.0.0.1:{port}/api/state") as response:
            assert response.status == 200
            return dict(await response.json())


async def stop(process: asyncio.subprocess.Process, sig: signal.Signals, port: int) -> str:
    process.send_signal(sig)
    _, err = await asyncio.wait_for(process.communicate(), TIMEOUT)
    assert process.returncode == 0, err.decode()
    with pytest.raises(ProcessLookupError):
        os.killpg(process.pid, 0)  # nothing left in its process group
    assert port_is_closed(port)
    return err.decode()


def linked(snapshot: dict[str, object]) -> dict[str, bool]:
    personas = snapshot["personas"]
    assert isinstance(personas, list)
    return {p["key"]: p["linked"] for p in personas}


async def test_demo_process_starts_restarts_and_stops_cleanly(tmp_path: Path) -> None:
    data = tmp_path / "demo-data"
    port = free_port()
    process = await start(data, port)
    assert await banner(process) == (
        f"TSO bot — démo : http://127.0.0.1:{port} (Ctrl-C pour arrêter)\n"
    )
    first = await state(port)
    assert first["ready"] is True
    assert linked(first) == {
        "parent1": False,
        "parent2": True,
        "eleve": True,
        "pp": True,
        "chef": True,
    }
    err = await stop(process, signal.SIGINT, port)
    assert "Traceback" not in err
    assert (data / DB_NAME).exists() and (data / "calendar.toml").exists()

    # A second start keeps the school (no new seed): the same accounts are linked.
    process = await start(data, port)
    await banner(process)
    assert linked(await state(port)) == linked(first)
    assert "Traceback" not in await stop(process, signal.SIGTERM, port)


async def test_demo_reports_a_busy_port_on_one_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = int(busy.getsockname()[1])
        process = await start(tmp_path / "demo-data", port)
        out, err = await asyncio.wait_for(process.communicate(), TIMEOUT)
    assert process.returncode == 1
    assert out == b""
    lines = err.decode().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"tso-bot: impossible d'écouter sur 127.0.0.1:{port}")
    assert "--port" in lines[0]
