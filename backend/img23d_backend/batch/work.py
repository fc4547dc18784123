"""A batch worker: one engine with its models resident, running one picture's generate job at a time.

The same ``api.Session.generate`` the ``generate`` command runs. A worker on this machine
(``local``) writes its run folders straight into the batch's folder; a worker on a Ray node
(``ray_pool``) writes them into a folder of its own and sends the files back as bytes with
its result (``WorkResult.files``), then removes them: no file system is shared.
"""

from __future__ import annotations

import logging
import os
import platform
import shutil
import tempfile
import time
import traceback
from pathlib import Path

from img23d_protocol import ErrorCode, GenerateJobResult, ProtocolError

from ..env import failpoints
from ..env.job_control import CancelToken
from ..jobs import Job
from ..runs.stems import safe_stem
from ..session import Session
from .items import WorkerSettings, WorkItem, WorkResult, limit_threads

log = logging.getLogger(__name__)


def result_notes(result: GenerateJobResult | None) -> list[str]:
    """The sentences a batch repeats for a picture made otherwise than asked: painting or depth
    skipped for the whole picture, material maps skipped, and each object whose finishing fell back or failed."""
    if result is None:
        return []
    # Each skip's sentence names its step, once: most say "depth skipped: " themselves (it was said twice).
    notes = [sentence if sentence.startswith(step) else step + sentence
             for step, sentence in (("texture skipped: ", result.texture_skipped),
                                    ("depth skipped: ", result.depth_skipped),
                                    ("materials skipped: ", result.materials_skipped)) if sentence]
    notes.extend(f"{target.target}: {target.fallback}" for target in result.targets if target.fallback)
    return notes


class Worker:
    """Runs one picture at a time; ``cancel`` (from another thread) stops the current one."""

    def __init__(self, settings: WorkerSettings, name: str = "") -> None:
        failpoints.hit("batch-worker")
        limit_threads(settings.threads)
        if settings.threads:
            import torch

            torch.set_num_threads(settings.threads)
        self.settings = settings
        self.name = name or f"{platform.node()}:{os.getpid()}"
        self._scratch: Path | None = None
        if settings.out is None:
            self._scratch = Path(tempfile.mkdtemp(prefix=f"img23d-batch-{os.getpid()}-"))
        runs = settings.out if settings.out is not None else self._scratch / "runs"
        self.session = Session(runs, settings.models)
        self._token: CancelToken | None = None
        self._cancelled = False

    def close(self) -> None:
        """Remove this worker's scratch folder (a worker killed first leaves it to ``worker_scratch_cleanup``)."""
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)

    def cancel(self) -> None:
        """Stop the running picture, and any that starts after this: the driver sends no more
        once it cancels, so a picture that reaches the worker afterwards was already on its way."""
        self._cancelled = True
        token = self._token
        if token is not None:
            token.cancel()

    def run(self, item: WorkItem) -> WorkResult:
        token = self._token = CancelToken()
        if self._cancelled:
            token.cancel()  # its run folder still says so: cancelled
        job = Job(id=f"batch-{item.index}", emit=lambda message: None, cancel=token)
        started = time.perf_counter()
        image = item.image
        if item.image_bytes is not None:  # the picture came with the item: keep its name for the run's
            assert self._scratch is not None
            image = str(self._scratch / f"{safe_stem(Path(item.image).stem)[:60] or 'picture'}{Path(item.image).suffix}")
            _write_private(Path(image), item.image_bytes, item.readers)
        views = item.views
        if item.view_bytes is not None:  # beside the picture, each under its own name (the run keeps its suffix)
            assert self._scratch is not None
            views = {name: {side: _scratch_view(self._scratch / "views" / str(number), side, item.views[name][side],
                                                data, item.readers) for side, data in sides.items()}
                     for number, (name, sides) in enumerate(item.view_bytes.items())}
        result = WorkResult(index=item.index, status="failed", seconds=0.0, worker=self.name)
        try:
            made = self.session.generate(image, item.names, item.options, cancel=token, job=job, views=views,
                                         prompt=item.prompt)
            result.meshes = sum(1 for m in made.meshes if m.status == "done")
            result.missing = sorted({m.target for m in made.failed})
            result.notes = result_notes(made.job)
            result.status = "done"
        except ProtocolError as exc:
            result.status = "cancelled" if exc.code is ErrorCode.CANCELLED else "failed"
            result.error = {"code": exc.code.value, "message": exc.message}
        except Exception as exc:  # the boundary of one picture: it fails alone, the worker goes on
            log.error("picture %s failed:\n%s", item.image, traceback.format_exc())
            result.error = {"code": ErrorCode.INTERNAL.value, "message": f"{type(exc).__name__}: {exc}"[:300]}
        finally:
            self._token = None
            if item.image_bytes is not None:
                Path(image).unlink(missing_ok=True)
            if item.view_bytes is not None:
                shutil.rmtree(self._scratch / "views", ignore_errors=True)
        result.seconds = round(time.perf_counter() - started, 3)
        if job.run_folder is not None:
            root = job.run_folder.root
            result.run_name, result.run_dir = root.name, str(root)
            result.sha256 = job.run_folder.manifest.image.get("sha256")
            if self._scratch is not None:
                result.files = _pack(root)
        if self._scratch is not None:  # everything this picture left here (its run, a suggest run) is sent or gone
            shutil.rmtree(self._scratch / "runs", ignore_errors=True)
        return result


def _scratch_view(folder: Path, side: str, listed: str, data: bytes, readers: int) -> str:
    """A view sent with its picture, written in ``folder`` (its name's, in the worker's scratch); its path there."""
    path = folder / f"{side}{Path(listed).suffix[:8]}"
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_private(path, data, readers)
    return str(path)


def _write_private(path: Path, data: bytes, readers: int) -> None:
    """``data`` written at ``path`` with the sources' permissions (``readers``, the owner's read and write
    always): the job reads them from the file, so its run keeps the sources' readers on this machine too."""
    path.write_bytes(data)
    os.chmod(path, (readers | 0o600) & 0o666)


def _pack(root: Path) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            files[path.relative_to(root).as_posix()] = path.read_bytes()
    return files
