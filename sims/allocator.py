"""Keep glibc's malloc from returning freed activation memory to the kernel.

A forward and backward pass allocates and frees arrays of up to several megabytes:
activations, their caches and fresh gradients. By default glibc serves large allocations
with fresh pages from mmap and returns free memory at the top of the heap to the kernel.
Its mmap threshold starts at 128 KiB and rises only as mmapped blocks are freed (glibc
2.36). The next pass then faults those pages in again, and the kernel zeroes each one.
For the width-1024, depth-16 residual MLP that was 14,000 to 43,000 page faults (56 to
169 MiB) per forward and backward pass. With both thresholds raised, the pass ran 1.16 to
1.40 times faster (benchmarks/bench_core.py on a shared 2-core AMD EPYC). The cost is
memory that stays with the process: up to 1 GiB free at the top of the heap, and freed
blocks under 32 MiB anywhere in it, which later allocations reuse.
"""

import ctypes
import os
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
"""``mallopt`` parameter numbers from glibc's ``malloc.h``."""

MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024
"""Allocations below this come from the heap. 32 MiB is the upper limit that mallopt(3)
documents for 64-bit systems, and the highest value that the dynamic threshold reaches."""

TRIM_THRESHOLD_BYTES = 1024 * 1024 * 1024
"""Free memory at the top of the heap is returned to the kernel only above this."""

_USER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")
_USER_TUNABLES = ("glibc.malloc.mmap_threshold", "glibc.malloc.trim_threshold")


def retain_freed_memory():
    """Raise glibc's mmap and trim thresholds for this process.

    Nothing changes on other platforms, under another C library, or when the user has
    set either threshold in the environment (``MALLOC_MMAP_THRESHOLD_``,
    ``MALLOC_TRIM_THRESHOLD_`` or ``GLIBC_TUNABLES``), which then stays in force.

    Returns
    -------
    bool
        Whether both thresholds were set.
    """
    if not sys.platform.startswith("linux"):
        return False
    if any(name in os.environ for name in _USER_SETTINGS):
        return False
    tunables = os.environ.get("GLIBC_TUNABLES", "")
    if any(name in tunables for name in _USER_TUNABLES):
        return False

    try:
        libc = ctypes.CDLL(None)
        # The two thresholds and their meaning are glibc's, so only glibc, which exports
        # gnu_get_libc_version, is configured.
        libc.gnu_get_libc_version
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int

    mmap_set = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
    trim_set = mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    return bool(mmap_set and trim_set)
