"""Find and end processes a test started indirectly (command tasks outlive a SIGKILLed server)."""

import contextlib
import os
import signal
from pathlib import Path


def pids_with(marker: str) -> list[int]:
    """Pids of this user's processes whose command line contains `marker`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if marker in (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                found.append(int(entry.name))
    return found


def is_alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] != "Z"


def kill_all(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def memory_kib(pid: int, field: str) -> int:
    """A memory figure of a live process from /proc/<pid>/status, in KiB: VmRSS (now) or VmHWM (peak)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for process {pid}")


def reset_peak_memory(pid: int) -> int:
    """Start a process's peak-RSS count (VmHWM) over from its current RSS; returns that RSS in KiB."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    return memory_kib(pid, "VmRSS")


def deleted_file_bytes(pid: int) -> int:
    """Disk held by files a process has open but that are deleted (SQLite's temp files are such files)."""
    total = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            if os.readlink(fd).endswith(" (deleted)"):
                total += os.stat(fd).st_blocks * 512
    return total
