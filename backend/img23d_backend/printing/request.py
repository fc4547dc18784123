"""A print, asked and made: the protocol's ``PrintRequest`` in (the one request: what the add-on's Print Selected
sends, ``jobs.kinds.prints``, and what the command line builds from its flags: the run or mesh, or the scene's
objects in world space, and the settings), ``PrintResult`` out.

Everything is prepared in memory first (``prepare``); only when at least one object can be printed is a folder
made, so a refused print leaves nothing behind. A run gets a new folder inside it (``print/``, or
``print-<time>/`` when one exists: ``runs.added_folders``), its own files untouched; a mesh of no run gets a new
run folder in ``out`` (``<time>-<name>-print/``, its manifest of kind ``print``) and the print inside that. A print
that fails once its folder is made (a full disk at the third STL) takes that folder away again, whatever it held:
an unchecked ``plate.3mf`` left alone in ``print/`` looked like a print. A full disk is then one sentence that says
nothing was kept.
"""

from __future__ import annotations

import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from img23d_protocol import ErrorCode, Manifest, PrintRequest, ProtocolError, check_print_settings

from .. import __version__
from ..runs.added_folders import AddedFolder
from ..runs.disk_errors import REASONS
from ..runs.folders import RunFolder, recover_interrupted
from . import libraries
from .plate import PLATE_CENTRE_MM, arrange, bed_note
from .plate_files import plate_objects, write_and_check
from .prepare import Prepared, make_ready, read_and_repair
from .record import PRINT_RECORD, PrintRecord
from .scale import millimetres_per_unit, reference_of
from .sources import open_sources, scene_sources

PRINT_FOLDER = "print"
PRINT_KIND = "print"
SCENE = "the Blender scene"   # what a print of the scene's objects came from, without their run


@dataclass
class PrintResult:
    folder: Path                  # the print's folder
    record: PrintRecord
    said: list[str] = field(default_factory=list)   # one sentence per object not printed, per note (the plate's
                                                    # too), per failed check

    @property
    def printed(self) -> list[str]:
        return [item.name for item in self.record.objects if item.printed]

    @property
    def refused(self) -> list[str]:
        return [item.name for item in self.record.objects if not item.printed]


def make_print(request: PrintRequest, out: Path = Path("img23d-runs"), say: Callable[[str], None] = lambda _: None,
               check: Callable[[], None] = lambda: None) -> PrintResult:
    """Prepare, write and check the print ``request`` asks (its ``source``: a run folder, or a mesh file: GLB,
    glTF, OBJ, PLY, the add-on's .npz; or its ``meshes``, name -> a mesh file in world space, printed where each
    stands, with ``source`` the run they came from, which keeps the print); a mesh of no run gets a run folder of
    its own in ``out``. ``ProtocolError(bad_request)`` (one sentence, nothing written) when the settings are out of
    range (its callers check them first, each naming a setting its own way) or no object can be printed.
    ``check`` is called between objects until the files are written (a cancel token's: its ``cancelled`` error
    stops the print with nothing written). A failure while writing (``disk``: a full disk) takes the print's folder
    away again, and says so."""
    check_print_settings(request.settings())
    libraries.manifold3d(), libraries.lib3mf()  # both load, or one sentence before anything is read or made
    given = Path(request.source) if request.source else None   # a run folder or a mesh file
    if request.meshes:
        found = scene_sources({name: Path(path) for name, path in request.meshes.items()}, given)
    elif given is not None:
        found = open_sources(given, tuple(request.only))
    else:
        raise ProtocolError(ErrorCode.BAD_REQUEST, "nothing to print: give a run folder, a mesh file or objects")
    items = []
    for source in found.sources:
        check()
        items.append(read_and_repair(source, found, say))
    heights = {item.source.name: item.world_height for item in items if item.matrix is not None}
    if not heights:
        raise ProtocolError(ErrorCode.BAD_REQUEST, " ".join(item.record.refused or "" for item in items).strip())
    reference = reference_of([i.source.name for i in items], [i.source.stem for i in items], heights, request.object)
    scale = millimetres_per_unit(heights, reference, request.height_mm, request.base_mm)
    for item in items:
        check()
        make_ready(item, scale, request, say)
    check()
    ready = [item for item in items if item.ready]
    record = PrintRecord(str(found.run_dir or given or SCENE), request.settings(), found.layout, reference,
                         round(scale * 1.0, 6) if found.layout != "none" else None)
    if not ready:
        raise ProtocolError(ErrorCode.BAD_REQUEST, " ".join(item.record.refused or "" for item in items).strip())
    plate = arrange({item.source.name: _footprint(item) for item in ready})
    record.plate = {"spread": plate.spread, "size_mm": [round(v, 2) for v in plate.size_mm],
                    "centre_mm": list(PLATE_CENTRE_MM)}
    too_large = bed_note(plate)
    if too_large is not None:
        record.notes.append(too_large)
    objects = plate_objects(ready, plate)
    run = _own_run(out, given, items) if found.run_dir is None else None
    status, folder = "failed", None
    try:
        folder = AddedFolder.create(run.root if run is not None else found.run_dir,  # type: ignore[arg-type]
                                    PRINT_FOLDER)
        say(f"writing {folder.root}")
        failed = write_and_check(folder, ready, objects, record)
        for item in items:
            item.record.printed = item.ready and all(check.get("passed") for check in item.record.checks)
            item.record.seconds = round(time.monotonic() - item.started, 2)
            record.objects.append(item.record)
        folder.write_bytes_with(PRINT_RECORD, lambda p: p.write_text(record.text(), encoding="utf-8"))
        status = "finished"
    except ProtocolError as exc:
        if exc.code is ErrorCode.DISK and folder is not None:
            raise _nothing_kept(exc.message, exc.__cause__, folder.root) from exc
        raise
    except OSError as exc:  # a write that is not ``atomic_write``'s (lib3mf's own file handling): the same sentence
        if folder is None:
            raise
        raise _nothing_kept(f"cannot write into {folder.root}: {exc.strerror or exc}", exc, folder.root) from exc
    finally:
        if status != "finished" and folder is not None:
            # Made by this print a moment ago (never an earlier one's: ``AddedFolder``), so all it holds is this
            # print's, unchecked: no half print is left to be taken for a whole one.
            shutil.rmtree(folder.root, ignore_errors=True)
        if run is not None:
            run.finish(status)
    said = [item.record.refused for item in items if item.record.refused]
    said += [note for item in items for note in item.record.notes] + record.notes + failed
    return PrintResult(folder.root, record, [sentence for sentence in said if sentence])


def _nothing_kept(message: str, cause: BaseException | None, folder: Path) -> ProtocolError:
    """The one sentence for a print whose files could not all be written (``message``, from ``cause``): why, and
    that nothing was kept."""
    reason = REASONS.get(cause.errno) if isinstance(cause, OSError) and cause.errno is not None else None
    why = f"{reason}: the print could not be written" if reason else message
    return ProtocolError(ErrorCode.DISK, f"{why}, so what it had written into {folder} was taken away: nothing was "
                                         "kept", str(cause) if cause is not None else None)


def _footprint(item: Prepared) -> tuple[float, float, float, float]:
    box = item.solid.bounding_box()  # type: ignore[attr-defined]
    return float(box[0]), float(box[1]), float(box[3]), float(box[4])


def _printed_from(source: Path | None, items: list[Prepared]) -> Path:
    """What the print was made from, for its run's manifest: the mesh file, or the scene's first object's."""
    first = source or next((item.source.mesh for item in items if item.source.mesh is not None), Path())
    return first.expanduser().resolve()


def _own_run(out: Path, source: Path | None, items: list[Prepared]) -> RunFolder:
    """A new run folder in ``out`` for the print of a mesh of no run (closed by the caller)."""
    name = items[0].source.stem if items else "mesh"
    recover_interrupted(out.expanduser())  # as every command that makes a run: killed runs say so first
    manifest = Manifest(job_id=uuid.uuid4().hex[:12], kind=PRINT_KIND, backend_version=__version__,
                        targets=[item.source.name for item in items],
                        image={"source": str(_printed_from(source, items))})
    return RunFolder.create(out.expanduser(), f"{name}-print", manifest)
