"""What a server process tree costs, read from /proc: CPU seconds of a process and all its
descendants (gunicorn's master and workers), and each process's resident memory."""
from __future__ import annotations

import os
from pathlib import Path

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/PID/stat from field 3 (state) on, or None when the process is gone.

    The command name (field 2) sits in parentheses and may hold spaces, so split after it."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()


def process_tree(root: int) -> list[int]:
    """`root` and every live process below it."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and (fields := _stat_fields(int(entry.name))):
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, waiting = [], [root]
    while waiting:
        pid = waiting.pop()
        found.append(pid)
        waiting += children.get(pid, [])
    return found


def tree_cpu_seconds(root: int) -> float:
    """User plus system CPU seconds of the tree so far, including children it has reaped (a
    worker gunicorn restarted still counts)."""
    ticks = 0
    for pid in process_tree(root):
        if fields := _stat_fields(pid):
            utime, stime, cutime, cstime = (int(value) for value in fields[11:15])
            ticks += utime + stime + cutime + cstime
    return ticks / TICKS_PER_SECOND


def rss_mib(pid: int) -> float:
    """Resident set size (VmRSS) in MiB; 0 when the process is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0
