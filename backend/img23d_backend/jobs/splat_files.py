"""An object's Gaussian splats as a job writes them: ``<stem>.splat.ply`` beside its GLB in the run
folder, recorded as the object's ``splats`` and announced as a ``splats`` artifact after its ``mesh``.

Splats serve an object already made: a failure to write them is said for that object (an ``error``
event naming it) and the object stays done, with its GLB.
"""

from __future__ import annotations

import logging
import traceback
from pathlib import Path
from typing import Any

from img23d_protocol import Artifact, ArtifactKind, Error, ErrorCode
from img23d_protocol.splats import SUFFIX, write_ply

from ..finish.splats import splats_of_glb
from ..runs.folders import TargetRecord
from ..stages import skips
from .base import JobRun

log = logging.getLogger(__name__)


def write_object_splats(run: JobRun, record: TargetRecord, glb: Path, artifact: dict[str, Any]) -> None:
    """Write the splats of the object whose GLB is ``glb``; announce them, or say why not."""
    try:
        cloud = splats_of_glb(glb)
        path = run.run_folder.write_bytes_with(f"{record.stem}{SUFFIX}", lambda p: write_ply(p, cloud))
    except Exception as exc:  # the object is made: its splats failing never ends the job
        log.error("the splats of %s failed:\n%s", record.target, traceback.format_exc())
        run.job.emit(Error(id=run.job.id, code=ErrorCode.INTERNAL.value, target=record.target,
                           message=f"the Gaussian splats of {record.target!r} could not be written "
                                   f"({skips.reason(exc)}); its GLB is kept"))
        return
    record.splats = run.run_folder.relative(path)
    run.job.emit(Artifact(job=run.job.id, kind=ArtifactKind.SPLATS, path=str(path), **artifact))
