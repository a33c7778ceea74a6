"""A real PostgreSQL server for tests: Debian's server binaries (``/usr/lib/postgresql/<v>/bin``), a
fresh cluster in a temporary folder, listening on a free 127.0.0.1 port, stopped by its PID.

PostgreSQL refuses to run as root; CI runs as root, so the server runs as the ``postgres`` system user
(``runuser -u postgres --``) with the data folder chowned to it. As any other user it runs as that user.
Each test gets its own database (``create_database``)."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from samx_cli.stack.ports import free_port


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries on this machine."""


def server_bin_dir() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(p.split("/")[4]))
    if not candidates:
        raise PostgresUnavailable("no /usr/lib/postgresql/*/bin/postgres; apt-get install postgresql")
    return Path(candidates[-1]).parent


class PostgresServer:
    def __init__(self) -> None:
        self.bin = server_bin_dir()
        self.port = free_port()
        # Not under pytest's tmp dir: that one is private to root, and the server user must reach it.
        self.root = Path(tempfile.mkdtemp(prefix="samx-pg-"))
        self.data = self.root / "data"
        self.user = "postgres"
        self._process: subprocess.Popen | None = None
        self._as_root = os.geteuid() == 0

    def _command(self, *argv: str) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *argv] if self._as_root else list(argv)

    def start(self, timeout_s: float = 30.0) -> None:
        if self._as_root:
            account = pwd.getpwnam("postgres")
            os.chown(self.root, account.pw_uid, account.pw_gid)
        else:
            self.user = pwd.getpwuid(os.geteuid()).pw_name
        subprocess.run(
            self._command(
                str(self.bin / "initdb"),
                "-D",
                str(self.data),
                "-U",
                self.user,
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
                "--locale=C",
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )
        log = open(self.root / "postgres.log", "ab")  # noqa: SIM115 - closed with the process in stop()
        self._log = log
        self._process = subprocess.Popen(
            self._command(
                str(self.bin / "postgres"),
                "-D",
                str(self.data),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-k",
                str(self.root),
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=200",
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with psycopg.connect(self.dsn("postgres"), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if self._process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"PostgreSQL did not start; see {self.root / 'postgres.log'}") from None
                time.sleep(0.2)

    def dsn(self, database: str) -> str:
        return f"host=127.0.0.1 port={self.port} user={self.user} dbname={database}"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{database}"

    def create_database(self, template: str | None = None) -> str:
        """A new database, empty or a copy of ``template`` (a database nobody is connected to); returns
        its SQLAlchemy URL."""
        name = "t" + uuid.uuid4().hex[:12]
        clause = f' TEMPLATE "{template}"' if template else ""
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"{clause}')
        return self.url(name)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            # SIGINT is PostgreSQL's fast shutdown (SIGTERM would wait for clients to disconnect).
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        if getattr(self, "_log", None):
            self._log.close()
        shutil.rmtree(self.root, ignore_errors=True)
