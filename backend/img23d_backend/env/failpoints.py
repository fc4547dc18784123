"""Failpoints: named places where a test can make the backend fail on purpose.

Inert unless ``IMG23D_FAILPOINTS`` is set (e.g. ``shape:kill``, ``export:hang,write:enospc``),
so the real failure paths (a SIGKILL in a given stage, a hang, out of memory, a full disk)
are exercised in the real process, not in a mock. Each entry is ``place:action``:

  kill    SIGKILL this process (as the OOM killer or a user would)
  kill-once  SIGKILL the first process of all that reaches the place while the file named by
          ``IMG23D_FAILPOINTS_ONCE`` exists (it removes the file: one process, once); inert without
          the file, so many processes (a batch's workers) can carry it and a test arms it by a file
  hang    stop making progress, forever
  oom     raise MemoryError
  enospc  raise OSError(ENOSPC), a full disk
  fill    the disk is full from here on: this and every later ``write*`` place raise ENOSPC
  exit    exit with status 3 at once
  missing-op  raise the RuntimeError of a compiled operator that did not load (named by the
          place's last dotted part), as a torchvision that does not match torch does
  raise   raise RuntimeError (a constructor or a call that fails on its own)
  slow    a measurement at the place reads as that many times slower (``slowdown``: the throughput probe)
  busy:S  keep a CPU busy for S seconds, then go on (a step slowed on purpose: ``env.heartbeat``)
  wait:S  sleep S seconds, then go on (a slow step whose CPU nobody reads: a test's CPU is the suite's time)

``place:action-armed`` acts only while the file ``<IMG23D_FAILPOINTS_ARMED>/<place>`` exists (it
stays: every process that reaches the place meanwhile acts), so processes started once for many
tests (a Ray cluster's workers) carry it inert until a test arms it.

``place:action@N`` acts from the N-th time the place is reached on (``write.glb:fill@2``: the
first mesh is written, then the disk is full).

Places: ``startup``, ``batch-worker`` (a batch worker's constructor), each stage name (``load``,
``grounding``, ``crop``, ``matting``, ``shape``, ``export``) at the stage's start, ``write`` for
each file a run writes and ``write.<suffix>`` (``write.glb``, ``write.json``, ``write.png``) for
files of one kind, ``probe.<name>`` for each environment probe (``env_probe``) before its tiny
call, ``load.<role>`` (``load.paint``, ``load.depth``, ...) as the model manager reads a model
from disk, ``unwrap.worker`` in the UV unwrap's worker process before each unwrap
(``uv/unwrap.py``: ``hang`` there is a hung xatlas), and ``throughput`` (``slow`` only)
for the device's speed the step-time estimates use, and ``rig.bind`` as a rig's binding starts
(``rigging/driver.py``: a cancel is checked right after it), and ``materials.bake`` as a target's
material maps are baked into its UV layout (``jobs/steps/materials.py``), and ``paint.fill`` as a painted atlas's
unseen texels are filled (Hunyuan3D-Paint's colour and maps: on a Generate's tail, ``families/hunyuan3d/paint.py``).
"""

from __future__ import annotations

import errno
import hashlib
import os
import signal
import time

ENV = "IMG23D_FAILPOINTS"
ONCE_ENV = "IMG23D_FAILPOINTS_ONCE"
ARMED_ENV = "IMG23D_FAILPOINTS_ARMED"
ARMED_SUFFIX = "-armed"
_hits: dict[str, int] = {}
_disk_full = False


def _armed() -> dict[str, str]:
    spec = os.environ.get(ENV, "")
    pairs = (item.split(":", 1) for item in spec.split(",") if ":" in item)
    return {place.strip(): action.strip() for place, action in pairs}


def _no_space() -> OSError:
    return OSError(errno.ENOSPC, "No space left on device (failpoint)")


def spin(seconds: float) -> None:
    """Keep one core busy for ``seconds``: computing, not sleeping (the CPU time is what says "working"), and
    in C with the GIL let go, as a model's step computes in torch; a Python loop would hold the GIL and
    starve the job's other threads (the heartbeat among them) as no real step does. hashlib releases it for
    a large buffer."""
    until = time.monotonic() + seconds
    block = bytes(1 << 20)
    while time.monotonic() < until:
        hashlib.sha256(block).digest()


def hit(place: str) -> None:
    """Fail here if a test armed this place; otherwise do nothing."""
    global _disk_full
    armed = _armed()
    if _disk_full and armed and place.startswith("write"):  # full until the test disarms it
        raise _no_space()
    action = armed.get(place)
    if action is None:
        return
    action, _, start = action.partition("@")
    if action.endswith(ARMED_SUFFIX):
        folder = os.environ.get(ARMED_ENV, "")
        if not folder or not os.path.exists(os.path.join(folder, place)):
            return
        action = action[:-len(ARMED_SUFFIX)]
    _hits[place] = _hits.get(place, 0) + 1
    if start and _hits[place] < int(start):
        return
    if action == "fill":
        _disk_full = True
        raise _no_space()
    if action == "kill-once":
        try:
            os.unlink(os.environ.get(ONCE_ENV, ""))  # only one process can remove it
        except OSError:
            return
        action = "kill"
    if action == "kill":
        os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))
        time.sleep(10)  # the signal is asynchronous on some platforms
    elif action == "hang":
        while True:
            time.sleep(3600)
    elif action.startswith("busy:"):
        spin(float(action.partition(":")[2]))
    elif action.startswith("wait:"):
        time.sleep(float(action.partition(":")[2]))
    elif action == "oom":
        raise MemoryError(f"failpoint {place}: out of memory")
    elif action == "enospc":
        raise _no_space()
    elif action == "exit":
        os._exit(3)
    elif action == "raise":
        raise RuntimeError(f"failpoint {place}")
    elif action == "missing-op":
        op = place.rsplit(".", 1)[-1]
        raise RuntimeError(f"Could not run 'torchvision::{op}' with arguments from the 'CPU' backend: "
                           f"the operator is not registered (failpoint {place})")


def slowdown(place: str, factor: float) -> float:
    """``factor`` where a test armed ``place:slow`` (a measurement there is to read that many times
    slower), else 1.0."""
    return factor if _armed().get(place) == "slow" else 1.0
