"""Configure, start, stop and inspect a local Neo4j bound to loopback.

One server instance lives in one folder (``GRAPHREC_HOME/server`` by default) holding its
``conf/``, ``data/``, ``logs/``, ``run/`` and ``import/`` folders and its state file
(graphrec.server.state).
"""

from __future__ import annotations

import os
import secrets
import shlex
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from graphrec.errors import ServerError
from graphrec.server.distribution import (
    ADMIN_TOOL,
    ENTRY_POINT,
    NEO4J_VERSION,
    check_tools,
    ensure_distribution,
    java_command,
)
from graphrec.server.state import ports as state_ports
from graphrec.server.state import read_state, server_home, write_state

# The heap holds query state, not the graph: what served every measured graph. The page cache
# ("auto") is sized at each start from the store on disk, so that it holds the whole store
# with room to grow (MIN_PAGECACHE at least: the shared datasets' stores are a few hundred MB),
# but never more than PAGECACHE_RAM_SHARE of the machine, which leaves room for TensorFlow
# and the OS's file cache. GRAPHREC_NEO4J_HEAP / GRAPHREC_NEO4J_PAGECACHE override both.
DEFAULT_HEAP = "2g"
# A repair start's heap may grow to this (never past REPAIR_RAM_SHARE of the machine): before
# Neo4j finds the end of a torn transaction log unreadable, it allocates the list of records
# the torn entry announces, up to 2^31 references of 4 bytes (README, "Disk full")
REPAIR_HEAP_BYTES = 10 * 2**30
REPAIR_RAM_SHARE = 0.6
DEFAULT_PAGECACHE = "auto"
MIN_PAGECACHE = 2 * 2**30
PAGECACHE_HEADROOM = 1.25
PAGECACHE_RAM_SHARE = 0.4
# Neo4j's own vector index population flushes a tiny Lucene RAM buffer, which leaves many
# small segments, and every query searches each segment's HNSW graph in turn. A large buffer
# flushes a few large segments instead, and they are never merged: not while the index is
# populated (Neo4j's own population merge factor, pinned here), and not by the writes that
# come later (segments above max_merge MB stay out of merges). Merging HNSW segments re-inserts
# the smaller ones' vectors into the largest one's graph, so merging the populated segments
# makes the build superlinear in the follows, and the first live write after it would start
# such a merge. Later writes' small segments still merge at a low factor, so that queries
# stay fast under live follows. These are Neo4j's own (internal) settings, and max_merge
# is shared by every Lucene index (graphrec creates no other); the measurements are in
# docs/benchmarks.md.
VECTOR_INDEX_TUNING = {
    "internal.dbms.index.vector.population_ram_buffer_size": "512",
    "internal.dbms.index.vector.population_merge_factor": "1000",
    "internal.dbms.index.vector.standard_merge_factor": "4",
    "internal.dbms.index.lucene.max_merge": "16",
}
JVM_FLAGS = [
    "-XX:+UseG1GC",
    "-XX:-OmitStackTraceInFastThrow",
    "-XX:+DisableExplicitGC",
    "-Djdk.nio.maxCachedBufferSize=1024",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Dfile.encoding=UTF-8",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-modules=jdk.incubator.vector",
]


def extra_jvm_options() -> list[str]:
    """JVM options added from GRAPHREC_NEO4J_JVM_OPTIONS (shell-quoted), after graphrec's own
    (the tests start their many short-lived servers with -XX:TieredStopAtLevel=1, which
    starts on much less CPU)."""
    return shlex.split(os.environ.get("GRAPHREC_NEO4J_JVM_OPTIONS", ""))


def set_initial_password(server: LocalServer, password: str) -> None:
    """Run ``neo4j-admin dbms set-initial-password`` without the password in its arguments.

    The password travels in a 0600 picocli argument file (``@file``), removed afterwards, so
    ``ps`` never shows it; the ``--`` inside keeps a password that starts with ``-`` from
    being read as an option.
    """
    if "\n" in password or "\r" in password:
        raise ServerError("NEO4J_PASSWORD: a password cannot contain a line break")
    quoted = password.replace("\\", "\\\\").replace('"', '\\"')
    run_dir = server.home / "run"
    run_dir.mkdir(parents=True, exist_ok=True)
    argfile = run_dir / f"initial-password.{os.getpid()}.args"
    fd = os.open(argfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(f'--\n"{quoted}"\n')
        done = server.admin("dbms", "set-initial-password", f"@{argfile}")
    finally:
        argfile.unlink(missing_ok=True)
    if done.returncode != 0:
        raise ServerError(f"could not set the initial password: {done.stderr.strip()[-500:]}")


def disk_usage(path: Path) -> int:
    """Bytes in the files under ``path`` (0 when it does not exist)."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def machine_memory() -> int:
    """Bytes of physical memory on this machine."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def page_cache_size(home: Path) -> str:
    """The page cache for the store under ``home``, as a Neo4j size ("2048m")."""
    on_disk = disk_usage(home / "data" / "databases")
    wanted = max(MIN_PAGECACHE, int(on_disk * PAGECACHE_HEADROOM))
    return f"{min(wanted, int(machine_memory() * PAGECACHE_RAM_SHARE)) // 2**20}m"


def _bytes(size: str) -> int:
    """A Neo4j/JVM size ("1g", "512m", "2048k" or bytes) in bytes."""
    units = {"k": 2**10, "m": 2**20, "g": 2**30}
    unit = units.get(size[-1:].lower())
    return int(size[:-1]) * unit if unit else int(size)


def repair_heap(heap: str) -> str:
    """The heap a repair start may grow to: ``heap``, or more where the machine has room."""
    room = min(REPAIR_HEAP_BYTES, int(machine_memory() * REPAIR_RAM_SHARE))
    return f"{max(_bytes(heap), room) // 2**20}m"


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class LocalServer:
    """A Neo4j Community server run from graphrec's own folder."""

    home: Path = field(default_factory=server_home)
    bolt_port: int = 7687
    http_port: int = 7474
    heap: str = DEFAULT_HEAP
    pagecache: str = DEFAULT_PAGECACHE
    version: str = NEO4J_VERSION

    @classmethod
    def from_env(
        cls,
        home: Path | None = None,
        bolt_port: int | None = None,
        http_port: int | None = None,
    ) -> LocalServer:
        """Defaults, overridden by GRAPHREC_SERVER_DIR / GRAPHREC_BOLT_PORT / ... and arguments."""
        env = os.environ
        home = server_home(home).resolve()
        bolt, http = state_ports(home)
        return cls(
            home=home,
            bolt_port=bolt_port or bolt,
            http_port=http_port or http,
            heap=env.get("GRAPHREC_NEO4J_HEAP", DEFAULT_HEAP),
            pagecache=env.get("GRAPHREC_NEO4J_PAGECACHE", DEFAULT_PAGECACHE),
        )

    # -- paths ---------------------------------------------------------------------------
    @property
    def conf_dir(self) -> Path:
        return self.home / "conf"

    @property
    def import_dir(self) -> Path:
        return self.home / "import"

    @property
    def bolt_uri(self) -> str:
        return f"bolt://127.0.0.1:{self.bolt_port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    # -- lifecycle -----------------------------------------------------------------------
    def pid(self) -> int | None:
        """The server's pid when it is running, else None."""
        pid = read_state(self.home).get("pid")
        if not pid:
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            return None
        return pid if ENTRY_POINT in cmdline and str(self.home) in cmdline else None

    def is_running(self) -> bool:
        return self.pid() is not None

    def status(self) -> dict:
        state = read_state(self.home)
        pid = self.pid()
        return {
            "running": pid is not None,
            "pid": pid,
            "version": self.version,
            "bolt_uri": self.bolt_uri,
            "browser_url": f"{self.http_url}/browser/",
            "home": str(self.home),
            "password_source": state.get("password_source"),
        }

    def start(self, wait_seconds: float = 180, log=print, repair: bool = False) -> dict:
        """Start the server (installing it first if needed) and wait until Bolt answers.

        ``repair``: for this start only, let recovery cut a transaction log whose end is
        unreadable (a write the disk had no room for, never committed) instead of keeping the
        database offline, and let the heap grow to ``repair_heap``: reading that end may
        allocate far more than the usual heap holds. Restart without it afterwards."""
        if self.is_running():
            log(f"Neo4j already running (pid {self.pid()}) at {self.bolt_uri}")
            return self.status()
        check_tools("java", "mvn")
        ensure_distribution(self.version, log=log)
        for port in (self.bolt_port, self.http_port):
            if _port_open(port):
                raise ServerError(
                    f"port {port} on 127.0.0.1 is already in use by another program; "
                    "choose others with --bolt-port/--http-port"
                )
        for sub in ("conf", "data", "logs", "run", "import", "plugins"):
            (self.home / sub).mkdir(parents=True, exist_ok=True)
        max_heap = repair_heap(self.heap) if repair else self.heap
        self._write_config(max_heap, repair)
        state = read_state(self.home)
        first_start = not (self.home / "data" / "dbms").exists()
        if first_start:
            state.update(self._set_initial_password())
        state.update(bolt_port=self.bolt_port, http_port=self.http_port, version=self.version)
        with open(self.home / "logs" / "console.log", "ab") as console:
            proc = subprocess.Popen(
                [
                    "java",
                    f"-Xms{self.heap}",
                    f"-Xmx{max_heap}",
                    *JVM_FLAGS,
                    *extra_jvm_options(),
                    *java_command(ENTRY_POINT, self.version)[1:],
                    f"--home-dir={self.home}",
                    f"--config-dir={self.conf_dir}",
                ],
                cwd=self.home,
                env=self._env(),
                stdout=console,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        state["pid"] = proc.pid
        write_state(self.home, state)
        self._wait_for_bolt(proc, wait_seconds)
        log(
            f"Neo4j {self.version} running (pid {proc.pid}): {self.bolt_uri}, "
            f"Browser at {self.http_url}/browser/"
        )
        return self.status()

    def stop(self, wait_seconds: float = 60, log=print) -> bool:
        """Stop the server; False when it was not running."""
        pid = self.pid()
        if pid is None:
            log("Neo4j is not running")
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline and self.pid() is not None:
            time.sleep(0.2)
        if self.pid() is not None:
            os.kill(pid, signal.SIGKILL)
            time.sleep(0.5)
        state = read_state(self.home)
        state.pop("pid", None)
        write_state(self.home, state)
        log(f"Neo4j stopped (pid {pid})")
        return True

    def admin(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run ``neo4j-admin ARGS`` against this server's folders."""
        ensure_distribution(self.version)
        return subprocess.run(
            [*java_command(ADMIN_TOOL, self.version), *args],
            env=self._env(),
            cwd=self.home,
            capture_output=True,
            text=True,
            check=False,
        )

    # -- internals -----------------------------------------------------------------------
    def _env(self) -> dict:
        return {**os.environ, "NEO4J_HOME": str(self.home), "NEO4J_CONF": str(self.conf_dir)}

    def _write_config(self, max_heap: str, repair: bool) -> None:
        settings = {
            "server.default_listen_address": "127.0.0.1",
            "server.default_advertised_address": "127.0.0.1",
            "server.bolt.listen_address": f"127.0.0.1:{self.bolt_port}",
            "server.http.listen_address": f"127.0.0.1:{self.http_port}",
            "server.https.enabled": "false",
            "server.memory.heap.initial_size": self.heap,
            "server.memory.heap.max_size": max_heap,
            "server.memory.pagecache.size": (
                page_cache_size(self.home) if self.pagecache == "auto" else self.pagecache
            ),
            "dbms.usage_report.enabled": "false",
            "db.tx_log.rotation.retention_policy": "2 files",
            "server.directories.data": str(self.home / "data"),
            "server.directories.logs": str(self.home / "logs"),
            "server.directories.run": str(self.home / "run"),
            "server.directories.import": str(self.import_dir),
            "server.directories.plugins": str(self.home / "plugins"),
            **VECTOR_INDEX_TUNING,
        }
        if repair:
            settings["internal.dbms.tx_log.fail_on_corrupted_log_files"] = "false"
        lines = ["# Written by graphrec on every start; edit LocalServer._write_config instead."]
        lines += [f"{k}={v}" for k, v in settings.items()]
        (self.conf_dir / "neo4j.conf").write_text("\n".join(lines) + "\n")

    def _set_initial_password(self) -> dict:
        password = os.environ.get("NEO4J_PASSWORD")
        source = "env"
        if not password:
            password = secrets.token_urlsafe(18)
            source = "generated"
        set_initial_password(self, password)
        state = {"user": "neo4j", "password_source": source}
        if source == "generated":
            state["password"] = password
        return state

    def _wait_for_bolt(self, proc: subprocess.Popen, wait_seconds: float) -> None:
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise ServerError(
                    f"Neo4j exited with code {proc.returncode} while starting; "
                    f"last log lines:\n{self._log_tail()}"
                )
            if _port_open(self.bolt_port) and self._http_ready():
                return
            time.sleep(0.5)
        raise ServerError(
            f"Neo4j did not answer on {self.bolt_uri} within {wait_seconds:.0f}s; "
            f"last log lines:\n{self._log_tail()}"
        )

    def _http_ready(self) -> bool:
        # Bolt opens before the default database is ready; neo4j.log says "Started." when it is.
        log = self.home / "logs" / "neo4j.log"
        try:
            tail = log.read_text(errors="replace")[-4000:]
        except OSError:
            return False
        return "Started." in tail.rsplit("Starting...", 1)[-1]

    def failure_cause(self) -> str | None:
        """The root cause Neo4j logged for the last database that failed to start (the last
        "Caused by" under its last "Failed to start" in debug.log), if any."""
        path = self.home / "logs" / "debug.log"
        try:
            with open(path, "rb") as f:
                f.seek(max(0, path.stat().st_size - (2 << 20)))
                text = f.read().decode(errors="replace")
        except OSError:
            return None
        block = text.rsplit("Failed to start", 1)
        if len(block) < 2:
            return None
        causes = []
        for line in block[1].splitlines()[1:]:
            if line[:4].isdigit():  # the next timestamped entry: the block is over
                break
            if line.startswith("Caused by: "):
                causes.append(line.removeprefix("Caused by: ").strip())
        return causes[-1][:400] if causes else None

    def _log_tail(self, lines: int = 15) -> str:
        for name in ("neo4j.log", "console.log"):
            path = self.home / "logs" / name
            if path.exists() and path.stat().st_size:
                return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        return "(no log)"
