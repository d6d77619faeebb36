"""How many torch threads one small inference call uses.

The bundled models are small and read one image (or a handful) at a time. On a 2-core machine,
two torch threads gain a few percent when the machine is idle and are several times slower
when another process keeps a core busy (the second thread's work waits at each parallel
region's barrier); benchmarks/RESULTS.md, "Coordinator's quiet re-runs, session 5".
"""

from __future__ import annotations

from contextlib import contextmanager


@contextmanager
def torch_threads(threads: int):
    """Run the body with `threads` torch threads (0: leave the process's setting), then restore.

    Args:
        threads: intra-op threads for the body; 0 keeps the current setting.
    """
    import torch

    before = torch.get_num_threads()
    if threads > 0 and threads != before:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)
