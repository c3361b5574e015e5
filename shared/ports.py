"""Who holds a TCP port: so that a platform that cannot listen can name the process in its way.

Linux only, from ``/proc``: the listening socket's inode from ``/proc/net/tcp`` and ``tcp6``, then the
process with that socket among its open files. Root sees every process; another user only their own,
so the answer may be None even when the port is taken.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

LISTEN = "0A"
"""The state of a listening socket in /proc/net/tcp."""
COMMAND_SHOWN = 120


@dataclass(frozen=True)
class PortHolder:
    pid: int
    name: str
    """The program's name (``/proc/<pid>/comm``)."""
    command: str
    """Its command line, cut to a readable length."""

    def describe(self) -> str:
        return f"{self.name} (pid {self.pid}: {self.command})"

    def short(self) -> str:
        return f"{self.name}, pid {self.pid}"


def listening_inodes(port: int, proc: Path = Path("/proc")) -> set[str]:
    """Inodes of the sockets listening on ``port`` (any address, IPv4 or IPv6)."""
    found: set[str] = set()
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(OSError):
            for line in (proc / "net" / table).read_text().splitlines()[1:]:
                fields = line.split()
                if len(fields) < 10 or fields[3] != LISTEN:
                    continue
                if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[9] != "0":
                    found.add(fields[9])
    return found


def port_holder(port: int, proc: Path = Path("/proc")) -> PortHolder | None:
    """The process listening on ``port``, or None when it cannot be found (or nothing listens)."""
    inodes = listening_inodes(port, proc)
    if not inodes:
        return None
    wanted = {f"socket:[{inode}]" for inode in inodes}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (entry / "fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) in wanted:
                        return _holder(entry)
    return None


def _holder(process: Path) -> PortHolder:
    name = command = ""
    with contextlib.suppress(OSError):
        name = (process / "comm").read_text().strip()
    with contextlib.suppress(OSError):
        command = " ".join(
            (process / "cmdline").read_bytes().decode(errors="replace").replace("\0", " ").split()
        )
    if len(command) > COMMAND_SHOWN:
        command = command[: COMMAND_SHOWN - 1] + "…"
    return PortHolder(int(process.name), name or "?", command or name or "?")
