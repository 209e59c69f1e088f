"""OpenMP threads that sleep while they wait, so a busy CPU does not stall training.

PyTorch's CPU kernels run on OpenMP threads (one per core by default) that *spin* at every
barrier by default. On a small machine shared with anything else (a second rank, the data
generator's workers, another job) a spinning thread holds the core its partner needs, and
each small kernel then waits for the OS to reschedule it: the default LLM's pre-training
step measured 4.4 s with two spinning threads next to one busy process on 2 cores, 0.37 s
with ``OMP_WAIT_POLICY=PASSIVE`` (and 0.37 s on one thread). The entry points set it
before torch is imported, unless the user chose a policy.
"""

from __future__ import annotations

import os

WAIT_POLICY = "OMP_WAIT_POLICY"


def prefer_passive_waiting() -> None:
    """Default ``OMP_WAIT_POLICY`` to ``PASSIVE`` (call before importing torch; a value the
    user set is kept)."""
    os.environ.setdefault(WAIT_POLICY, "PASSIVE")
