"""A PostgreSQL cluster of the test's own, for faults that restart the server.

The shared server on :5432 belongs to every test and engineer on the machine, so a test that
restarts PostgreSQL mid-dump starts its own: initdb into a temp folder, a free port, trust
auth on 127.0.0.1, fsync off (nothing here must survive the test). As root the cluster runs
as the ``postgres`` user, because initdb refuses root.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.support.procs import free_port

BIN = Path(os.environ.get("BACKUPBOT_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))


class PrivateCluster:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="bb-private-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self.port = free_port()
        self._as: list[str] = []
        if os.geteuid() == 0:
            pg = pwd.getpwnam("postgres")
            os.chown(self.dir, pg.pw_uid, pg.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        self._run(
            BIN / "initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"
        )

    def _run(self, *argv: str | Path) -> None:
        subprocess.run([*self._as, *map(str, argv)], check=True, capture_output=True, timeout=120)

    def _ctl(self, action: str, *extra: str) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            BIN / "pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "60", "-o", options, *extra, action
        )

    def start(self) -> PrivateCluster:
        self._ctl("start")
        return self

    def restart(self) -> None:
        """What a failover or an OOM-killed postmaster looks like to clients: every connection dropped."""
        self._ctl("restart", "-m", "fast")

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def stop(self) -> None:
        try:
            self._ctl("stop", "-m", "immediate")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)
