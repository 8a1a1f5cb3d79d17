"""What a benchmarked command costs: peak RSS of its process tree and CPU seconds, sampled from /proc.

Why CPU as well as wall time: on a shared 2-core machine a neighbour's test run moves wall
times by 2x between minutes, while the CPU seconds of the command, of the PostgreSQL backend
serving its COPY and of the S3 server receiving its upload are what explain a wall time.
"""

from __future__ import annotations

import os
import resource
import threading
import time
from dataclasses import dataclass


def _children(pid: int) -> list[int]:
    """Direct children from /proc/PID/task/*/children: a few reads per sample instead of a scan
    of every process, which cost 3 ms per 20 ms sample (15 % of one of the 2 cores)."""
    kids: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return kids
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                kids.extend(int(k) for k in fh.read().split())
        except OSError:
            continue
    return kids


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_kb(roots: list[int]) -> int:
    seen: set[int] = set()
    stack = list(roots)
    total = 0
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        total += _rss_kb(pid)
        stack.extend(_children(pid))
    return total


_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """user + system CPU of one process so far (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def backend_pids(postmaster: int, database: str) -> list[int]:
    """PostgreSQL backends whose process title names the benchmark database (the dump's COPY)."""
    pids = []
    for pid in _children(postmaster):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                title = fh.read()
        except OSError:
            continue
        if f" {database} ".encode() in title:
            pids.append(pid)
    return pids


class PeakRss:
    """Samples the summed RSS of the given process trees every 20 ms until stopped, and the CPU
    of the PostgreSQL backends serving ``database`` (last value seen before each one exits)."""

    def __init__(self, roots: list[int], database: str = "", postmaster: int = 0) -> None:
        self.roots = roots
        self.database = database
        self.postmaster = postmaster
        self.peak_kb = 0
        self.backend_cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        tick = 0
        backends: list[int] = []
        while not self._stop.is_set():
            self.peak_kb = max(self.peak_kb, tree_rss_kb(self.roots))
            if self.database and self.postmaster:
                if tick % 10 == 0:  # backends come and go rarely; look for them every 0.2 s
                    backends = backend_pids(self.postmaster, self.database)
                for pid in backends:
                    self.backend_cpu[pid] = max(self.backend_cpu.get(pid, 0.0), cpu_seconds(pid))
            tick += 1
            self._stop.wait(0.02)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak_kb / 1024


@dataclass
class Run:
    wall: float
    stored: int | None
    peak_mb: float
    logical: int | None = None
    cpu: float = 0.0  # the command's process tree (children it waited for included)
    db_cpu: float = 0.0  # the PostgreSQL backend(s) serving the dump
    s3_cpu: float = 0.0  # the S3 server receiving the upload


class Meter:
    """Wall time, peak tree RSS and CPU (own tree, PostgreSQL backend, S3 server) of one command."""

    s3_pid = 0
    database = ""
    postmaster = 0

    def __init__(self, roots: list[int]) -> None:
        self.t0 = time.monotonic()
        self.children0 = children_cpu()
        self.s3_0 = cpu_seconds(self.s3_pid) if self.s3_pid else 0.0
        self.mem = PeakRss(roots, self.database, self.postmaster)

    def stop(self, stored: int | None = None, logical: int | None = None) -> Run:
        wall = time.monotonic() - self.t0
        peak = self.mem.stop()
        return Run(
            wall,
            stored,
            peak,
            logical,
            cpu=children_cpu() - self.children0,
            db_cpu=sum(self.mem.backend_cpu.values()),
            s3_cpu=(cpu_seconds(self.s3_pid) - self.s3_0) if self.s3_pid else 0.0,
        )


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
