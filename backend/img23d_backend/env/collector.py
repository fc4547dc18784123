"""The garbage collector's settings for img23d's own processes (the command line, ``serve``, a batch's workers).

Measured on this project's 2-core CPU, Python 3.13, a tiny-model generate on the command line (its process
importing torch, transformers and diffusers, about 410,000 objects):

- Start (``collect_less_often``): with Python's default thresholds (700, 10, 10) the collector ran 424 times,
  3 of them over every object, for 0.65 to 0.72 CPU-seconds; with (10,000, 10, 10) 93 times, none full, for
  0.34. A young collection's cost is set by the objects allocated since the last, whatever the threshold;
  the full ones, each over the whole heap torch made, are what fewer young collections spare. Memory is not
  what waits on them: dropping a model collects at once (``models/placement.release_cached_memory``).
- Exit (``skip_final_collection``): leaving took 1.1 to 1.4 CPU-seconds, nearly all in the collections the
  interpreter runs while it tears its modules down. ``gc.freeze()`` moves every object to the permanent
  generation, which those skip: leaving then takes 0.25 to 0.3 s. Everything else an exit does still
  happens (non-daemon threads joined, atexit handlers: ``weakref.finalize``'s temporary folders,
  multiprocessing's children, logging's flush; streams flushed, modules torn down); only reference cycles
  are left, whose memory goes with the process. img23d closes what it writes in ``with`` blocks, never
  through a collector. ``serve`` ends with ``os._exit`` (its worker threads may sit inside a torch op),
  which runs no collection at all.

``bench/collector.py`` measures both side by side (``bench/results/collector-cpu.json``: the exit 6.27 to 4.92
CPU-seconds, a tiny generate on the command line 13.56 to 12.40).
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000  # allocations between young collections (Python's default: 700)


def collect_less_often() -> None:
    """Call first in a process: young collections about fourteen times rarer, and full ones with them."""
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)


def skip_final_collection() -> None:
    """Call just before the process exits: the objects alive now are not collected on the way out."""
    gc.freeze()
