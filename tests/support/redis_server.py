"""A private redis-server for tests, on a free loopback port, that tests can kill and restart."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import redis

# A port picked free may be taken by another process (another test session on this machine)
# before our child binds it: the child then fails to start, or, worse, whoever holds the port
# answers in its place. Starters check who listens and pick another port this many times.
PORT_ATTEMPTS = 5


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening_inodes(port: int) -> set[str]:
    """The inodes of the sockets listening on 127.0.0.1:`port` (or any address), from /proc."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            address, _, port_hex = fields[1].partition(":")
            if fields[3] == "0A" and int(port_hex, 16) == port and address.strip("0") in ("", "100007F"):
                inodes.add(fields[9])
    return inodes


def _socket_inodes(pid: int) -> set[str]:
    found = set()
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return found
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            found.add(target[8:-1])
    return found


def listens_on(pid: int, port: int) -> bool | None:
    """Whether process `pid` (or one of its children) holds the socket listening on `port`;
    None where /proc cannot tell (not Linux)."""
    if not Path("/proc/net/tcp").exists():
        return None
    listening = _listening_inodes(port)
    if not listening:
        return False
    pids = [pid]
    with contextlib.suppress(OSError):  # no such file without CONFIG_PROC_CHILDREN
        pids += [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return any(listening & _socket_inodes(p) for p in pids)


def ensure_redis_server() -> str:
    """The redis-server binary; installed from Debian's packages when missing (never skipped)."""
    found = shutil.which("redis-server")
    if found:
        return found
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "redis-server"], check=True)
    found = shutil.which("redis-server")
    if not found:
        raise RuntimeError("redis-server could not be installed")
    return found


class RedisServer:
    def __init__(self) -> None:
        self.binary = ensure_redis_server()
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None
        self._started = False  # once started, the port is fixed: clients hold the URL

    def start(self) -> RedisServer:
        for _ in range(1 if self._started else PORT_ATTEMPTS):
            if self._start_once():
                self._started = True
                return self
            # Someone else took the port between the pick and the bind: another one.
            self.port = free_port()
            self.url = f"redis://127.0.0.1:{self.port}/0"
        raise RuntimeError(f"redis-server could not listen on port {self.port} (taken by another process)")

    def _start_once(self) -> bool:
        """True once this child answers on the port; False if the port is not ours."""
        proc = self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=0.5)
        try:
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    return False  # it could not bind
                # Ping only our child: whoever else holds the port may never answer (and
                # redis-py retries a silent peer for seconds).
                if listens_on(proc.pid, self.port) is not False:
                    with contextlib.suppress(redis.RedisError):
                        if client.ping():
                            return True
                time.sleep(0.02)
        finally:
            client.close()
        proc.kill()
        proc.wait(5)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        """SIGKILL: no goodbye to the clients, like a crash."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(5)
            self.proc = None

    def restart(self) -> None:
        self.kill()
        self.start()

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
