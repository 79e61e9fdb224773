"""Who holds a TCP port, and which port nearby is free: for a start-up error a person reads at once."""

from __future__ import annotations

import os
import socket
from pathlib import Path


def listening_inodes(port: int) -> set[str]:
    """Socket inodes listening on `port`, from /proc/net/tcp and tcp6 (Linux); empty elsewhere."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                inodes.add(fields[9])
    return inodes


def port_holder(port: int) -> str | None:
    """"name (pid N)" of the process listening on `port`, where the system lets us see it."""
    inodes = {f"socket:[{inode}]" for inode in listening_inodes(port)}
    if not inodes:
        return None
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                if os.readlink(fd) in inodes:
                    name = (entry / "comm").read_text().strip()
                    return f"{name} (pid {entry.name})"
        except OSError:  # gone, or not ours to look at
            continue
    return None


def free_port_near(host: str, port: int, tries: int = 20) -> int | None:
    for candidate in range(port + 1, min(port + 1 + tries, 65536)):
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            try:
                probe.bind((host, candidate))
            except OSError:
                continue
            return candidate
    return None


def address_in_use_message(host: str, port: int) -> str:
    """What to tell a person whose broker could not bind: who has the port, and what to run instead."""
    holder = port_holder(port)
    lines = [f"cannot start: {host}:{port} is already in use"
             + (f" by {holder}" if holder else " by another program")
             + (" (another broker?)" if holder and ("java" in holder or "python" in holder or "kctl" in holder)
                else "")]
    spare = free_port_near(host, port)
    suggestion = f"{host}:{spare}" if spare else f"{host}:PORT"
    lines.append(f"hint: stop it, or listen elsewhere: kctl broker start --listen {suggestion}")
    return "\n".join(lines)
