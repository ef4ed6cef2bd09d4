"""Memory estimates checked before a large run allocates."""

import os
import pathlib

_MEMINFO = pathlib.Path("/proc/meminfo")


class InsufficientMemoryError(RuntimeError):
    """A run's estimated memory exceeds the memory available to it."""


def available_memory_bytes():
    """Return the memory available for new allocations in bytes, or ``None`` if unknown.

    On Linux this is ``MemAvailable`` of ``/proc/meminfo`` (free memory plus the page
    cache that the kernel can reclaim). Elsewhere it is the free physical memory that
    ``os.sysconf`` reports, which leaves out reclaimable cache and so errs low.
    """
    if _MEMINFO.exists():
        for line in _MEMINFO.read_text(encoding="ascii").splitlines():
            if line.startswith("MemAvailable:"):
                kibibytes = int(line.split()[1])
                return kibibytes * 1024
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def require_memory(estimate_bytes, label):
    """Raise :class:`InsufficientMemoryError` if ``estimate_bytes`` exceeds what is available.

    Nothing is checked where the available memory is unknown.
    """
    available = available_memory_bytes()
    if available is not None and estimate_bytes > available:
        raise InsufficientMemoryError(
            f"{label} needs about {estimate_bytes / 2**30:.1f} GiB of memory but "
            f"{available / 2**30:.1f} GiB is available; use a smaller --scale or free memory")
