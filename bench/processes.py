"""The processes under test: the real server and the floor, each on its own port."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import aiohttp

from standins.rig import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    BOT_TOKEN,
    PUBLIC_URL,
    SIGNING_SECRET,
)

START_TIMEOUT_S = 60.0
CHECKOUT = Path(__file__).resolve().parent.parent


@dataclass
class Process:
    """A child process serving HTTP on 127.0.0.1:port, its output kept in a log file."""

    name: str
    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path
    log: IO[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.proc.pid

    async def wait_healthy(self, http: aiohttp.ClientSession) -> None:
        """Until /healthz answers 200; a process that exits first is reported with its log."""
        async with asyncio.timeout(START_TIMEOUT_S):
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
                try:
                    async with http.get(self.url + "/healthz") as r:
                        if r.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)

    def stop(self) -> int | None:
        """SIGTERM, as Fly stops a machine; the exit code, or None if it had to be killed."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.log.close()
                return None
        self.log.close()
        return self.proc.returncode

    def log_tail(self, lines: int = 30) -> str:
        self.log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pythonpath() -> str:
    """`bot` (and the bench) from this checkout, not whichever one the virtualenv installed."""
    return os.pathsep.join(p for p in (str(CHECKOUT), os.environ.get("PYTHONPATH", "")) if p)


def server_env(workdir: Path, *, port: int, redis_url: str | None, slack_api: str, twilio_api: str,
               ) -> dict[str, str]:
    """The production environment variables, pointed at the stand-ins and the lines file."""
    ours = ("SLACK_", "TWILIO_", "TEXTBACK_", "REDIS_URL", "PORT", "PUBLIC_URL")
    env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    env |= {
        "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "PUBLIC_URL": PUBLIC_URL,
        "SLACK_API_URL": slack_api, "TWILIO_API_URL": twilio_api, "PORT": str(port),
        "TEXTBACK_CONFIG": str(workdir / "textback.yml"), "TEXTBACK_DATA_DIR": str(workdir / "data"),
        "PYTHONPATH": pythonpath(),
    }
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


def spawn(name: str, argv: list[str], env: dict[str, str], workdir: Path, port: int) -> Process:
    log_path = workdir / f"{name}.log"
    log = open(log_path, "wb")  # noqa: SIM115 - closed in Process.stop
    proc = subprocess.Popen(argv, env=env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
    return Process(name, proc, port, log_path, log)


def start_server(workdir: Path, *, redis_url: str | None, slack_api: str, twilio_api: str) -> Process:
    """`python -m bot serve`, exactly as production runs it."""
    port = free_port()
    env = server_env(workdir, port=port, redis_url=redis_url, slack_api=slack_api, twilio_api=twilio_api)
    return spawn("server", [sys.executable, "-m", "bot", "serve"], env, workdir, port)


def start_floor(workdir: Path, *, slack_api: str, twilio_api: str) -> Process:
    port = free_port()
    argv = [sys.executable, "-m", "bench.floor", "--port", str(port), "--twilio", twilio_api, "--slack", slack_api]
    # The bench is not installed with the package: the floor imports it from this checkout.
    return spawn("floor", argv, {**os.environ, "PYTHONPATH": pythonpath()}, workdir, port)


def embedded_redis_url(data_dir: Path) -> str | None:
    """The URL of the Valkey the server started itself, read from the config it wrote."""
    conf = data_dir / "valkey" / "valkey.conf"
    if not conf.exists():
        return None
    settings = dict(line.split(None, 1) for line in conf.read_text().splitlines() if " " in line.strip())
    port, host = settings.get("port", "").strip(), settings.get("bind", "127.0.0.1").split()[0]
    return f"redis://{host}:{port}" if port.isdigit() and port != "0" else None


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS (now) and VmHWM (peak since start) of a process, in kB; empty if it is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    found = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0])
    return found


def cpu_s(pids: list[int]) -> float:
    """User + system CPU seconds the processes have used so far (0 for one that is gone)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def children(pid: int) -> list[int]:
    """Direct child pids (the embedded Valkey runs as one)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(p) for p in task.read_text().split()]
        except OSError:
            continue
    return found


def listen_backlog(port: int) -> int | None:
    """The accept-queue length a socket listening on `port` asked for (`ss`'s Send-Q), or None
    without `ss`. Past it, Linux drops new connections' SYNs and the client retries after 1 s."""
    exe = shutil.which("ss")
    if exe is None:
        return None
    done = subprocess.run([exe, "-Hltn", f"sport = :{port}"], capture_output=True, text=True, check=False)
    sizes = [int(f[2]) for f in (ln.split() for ln in done.stdout.splitlines()) if len(f) > 2 and f[2].isdigit()]
    return min(sizes) if sizes else None


def listen_overflows() -> int | None:
    """TcpExt ListenOverflows of this network namespace (every listening socket on the machine):
    connections dropped because an accept queue was full. None where /proc/net/netstat is not."""
    try:
        text = Path("/proc/net/netstat").read_text()
    except OSError:
        return None
    rows = [ln.split() for ln in text.splitlines() if ln.startswith("TcpExt:")]
    if len(rows) < 2 or "ListenOverflows" not in rows[0]:
        return None
    return int(rows[1][rows[0].index("ListenOverflows")])
