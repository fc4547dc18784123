"""``serve --warm-up``: one small job on a made-up picture right after the models' imports, so the first
real job does not pay for what only a first run pays (CUDA kernels chosen and compiled, cuDNN's
algorithm search, the caching allocator's first blocks, each model's first load from disk).

The picture is drawn here (a coloured box on a grey floor). Two jobs run it through the chain as a real
one would: a Detect with one name (the grounding model), then a Generate of the whole picture (matting,
shape, and paint where the set paints) at small settings. Its picture and run folders live apart from the
artist's runs, in ``<runs dir>/_warm-up/<pid>-<machine>-<start time>-<random>/`` (``runs/owner.py``; never
listed, never recovered as a run), removed when it ends; a backend stopped during it (shutdown, Ctrl+C)
cancels it and removes them, and one killed outright leaves them to the next backend, which removes the
warm-up folders of backends that have ended (``clean_warm_ups``). It never downloads: a model that is not on
disk yet makes it fail at once (``model_missing``), and the first real job downloads it as it would have anyway. A failure
is logged and reported, never raised: the first real job then meets the same problem and says so with its
code. The server holds real jobs until it is done (``WarmUpJob.done``) rather than running two jobs on
one engine, and tells the add-on how it went (``sentence``, as a progress event of the job ``JOB_ID``).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from img23d_protocol import DetectRequest, GenerateRequest, JobOptions, Message, ProtocolError
from PIL import Image, ImageDraw

from ..jobs import Engine, Job
from ..runs.lease import LEASES
from ..runs.owner import folder_prefix
from .transfers import remove_dead_pid_folders

log = logging.getLogger(__name__)
# Asked for by --warm-up: its one line (the outcome and the seconds) is logged without -v as well.
log.setLevel(logging.INFO)

# Small: the kernels and caches of a small run are those of a large one, its grid and texture are not.
OPTIONS = JobOptions(octree_resolution=64, texture_size=256, face_budget=2000, materials=False,
                     complete_hidden="never")
PICTURE_SIDE = 512
# The id its events carry (the add-on's client notes them: img23d_client.session_events.WARM_UP_JOB).
JOB_ID = "warm-up"
WARM_UP_DIR = "_warm-up"   # below the runs folder: not a run (no manifest of its own), as _uploads is not


def made_up_picture(folder: Path) -> Path:
    """A 512-pixel picture of a red box on a grey floor, written into ``folder``."""
    image = Image.new("RGB", (PICTURE_SIDE, PICTURE_SIDE), (150, 150, 150))
    ImageDraw.Draw(image).rectangle((160, 140, 360, 380), fill=(190, 50, 40), outline=(60, 20, 20), width=6)
    path = folder / "warm-up.png"
    image.save(path)
    return path


@dataclass
class WarmUpJob:
    """The warm-up's state, for the status reply: running, done or failed, and how long it took."""

    state: str = "waiting"
    seconds: float = 0.0
    error: str | None = None
    job: Job = field(default_factory=lambda: Job(id=JOB_ID, emit=_ignore))
    done: threading.Event = field(default_factory=threading.Event)

    def to_dict(self) -> dict[str, Any]:
        return {"state": self.state, "seconds": round(self.seconds, 2), "error": self.error}

    def sentence(self) -> str:
        """What the add-on shows once it is over."""
        if self.state == "done":
            return f"warm-up done in {self.seconds:.1f} s (a small job on a made-up picture)"
        return f"warm-up failed after {self.seconds:.1f} s: {self.error}; the first job loads what it needs"

    def run(self, engine: Engine) -> None:
        """Both jobs on ``engine``, timed; ``done`` is set whatever happens."""
        self.state, started = "running", time.perf_counter()
        offline, engine.manager.offline = engine.manager.offline, True  # never a download nobody asked for
        root = engine.settings.runs_dir / WARM_UP_DIR
        try:
            root.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(prefix=folder_prefix(), dir=root) as folder:
                self.job.runs_dir = Path(folder)
                LEASES.hold(self.job.runs_dir)  # a backend sharing the runs folder leaves it alone meanwhile
                try:
                    picture = str(made_up_picture(Path(folder)))
                    for request in (DetectRequest(id="warm-up-detect", image=picture, targets=["box"]),
                                    GenerateRequest(id="warm-up", image=picture, targets=[], options=OPTIONS)):
                        self._run_one(engine, request)
                finally:
                    LEASES.release(self.job.runs_dir)
            self.state = "done"
        except ProtocolError as exc:
            self.state, self.error = "failed", f"{exc.message} [{exc.code.value}]"
        except Exception as exc:  # the thread's boundary: the first real job reports it with its code
            log.warning("warm-up job failed", exc_info=True)
            self.state, self.error = "failed", f"{type(exc).__name__}: {exc}"[:300]
        finally:
            engine.manager.offline = offline
            self.seconds = time.perf_counter() - started
            self.done.set()
        log.info("warm-up job on a made-up picture: %s in %.1fs%s", self.state, self.seconds,
                 f" ({self.error})" if self.error else "")

    def _run_one(self, engine: Engine, request: Message) -> None:
        self.job.cancel.check()
        try:
            engine.run(request, self.job)
        finally:
            self.job.run_folder = None   # in the warm-up's own folder, removed with it

    def stop(self, wait: float) -> None:
        """Cancel it (a shutdown, Ctrl+C) and give it ``wait`` seconds to end; a warm-up still inside a step
        then has its folder removed here, as the process ends under it (nothing of it is the artist's)."""
        self.job.cancel.cancel()
        if not self.done.wait(timeout=wait) and self.job.runs_dir is not None:
            shutil.rmtree(self.job.runs_dir, ignore_errors=True)


def clean_warm_ups(runs_dir: Path) -> list[Path]:
    """Remove the warm-up folders of backends that are no longer running (killed during their warm-up), on this
    machine or, once their lease has lapsed, on another sharing the runs folder."""
    return remove_dead_pid_folders(runs_dir / WARM_UP_DIR)


def _ignore(message: Message) -> None:
    """The warm-up's events go nowhere: no one asked for it by a request."""
