"""An object's Gaussian splats as a job writes them: ``<stem>.splat.ply`` beside its GLB in the run
folder, recorded as the object's ``splats`` and announced as a ``splats`` artifact after its ``mesh``.

Splats serve an object already made: a mesh that cannot be made into splats is said for that object
(an ``error`` event naming it) and the object stays done, with its GLB. A disk without room for the
file is the job's ``disk`` error, as it is for any of the run's files: checked against the free
space before the first byte, and a disk that fills while writing ends the job the same way.
Faces the splats leave out (a corner that is not a number, no area) are one warning in the run.
"""

from __future__ import annotations

import logging
import traceback
from pathlib import Path
from typing import Any

from img23d_protocol import Artifact, ArtifactKind, Error, ErrorCode
from img23d_protocol.splats import SUFFIX, SplatCloud, SplatError, ply_size, write_ply

from ...finish.splats import splats_of_glb
from ...runs.folders import TargetRecord
from ...stages import skips
from ..base import JobRun

log = logging.getLogger(__name__)

SKIPPED_FACES = "splat_faces_skipped"   # the manifest warning's code


def write_object_splats(run: JobRun, record: TargetRecord, glb: Path, artifact: dict[str, Any]) -> None:
    """Write the splats of the object whose GLB is ``glb``; announce them, or say why not. A full
    disk raises the run folder's ``disk`` error (a ``ProtocolError``): the job ends on it."""
    try:
        cloud = splats_of_glb(glb)
    except Exception as exc:  # the object is made: a mesh that makes no splats never ends the job
        if not isinstance(exc, SplatError):  # a SplatError is its own sentence; anything else is a fault here
            log.error("the splats of %s failed:\n%s", record.target, traceback.format_exc())
        code = ErrorCode.OUT_OF_MEMORY if isinstance(exc, MemoryError) else ErrorCode.INTERNAL
        run.job.emit(Error(id=run.job.id, code=code.value, target=record.target,
                           message=f"the Gaussian splats of {record.target!r} could not be made "
                                   f"({skips.reason(exc)}); its GLB is kept"))
        return
    _warn_skipped(run, record, cloud)
    path = run.run_folder.write_bytes_with(f"{record.stem}{SUFFIX}", lambda p: write_ply(p, cloud),
                                           size=ply_size(len(cloud)))
    record.splats = run.run_folder.relative(path)
    run.job.emit(Artifact(job=run.job.id, kind=ArtifactKind.SPLATS, path=str(path), **artifact))


def _warn_skipped(run: JobRun, record: TargetRecord, cloud: SplatCloud) -> None:
    if not cloud.skipped:
        return
    sentence = (f"the Gaussian splats of {record.target!r} leave out {cloud.skipped:,} face(s) with a corner that "
                "is not a number or with no area")
    log.warning(sentence)
    run.run_folder.manifest.warnings.append({"stage": "splats", "code": SKIPPED_FACES, "message": sentence,
                                             "target": record.target, "faces": cloud.skipped})
