"""A Generate's views as given: each read as untrusted, kept, cut out and brought to its front's scale.

The artist gives pictures of a name from its left, back and right (``GenerateRequest.views``,
``img23d_protocol.views``); the front is the job's own picture. For each name with views, once per
job: each view is read with the project's guards (``readers.images``: its sentence when it cannot
be), its file kept as given (``views_in/<name-stem>/<side>.given.<ext>``), matted by the job's
matting model (BiRefNet) unless it has a real alpha channel, and its cut-out brought to one scale
with the front's: the object as tall as the front cut-out's object, standing on the same baseline
(its lowest row), centred under the front's, on a canvas as tall as the front cut-out
(``views_in/<name-stem>/<side>.png``, RGBA). hy3dgen's own image processor scales every view to
its own bounding box, which makes a back photo taken from further away a smaller object; here the
front's height is the one scale.

A view that cannot be used is left out with one sentence (the job's warnings, the progress, its
targets' ``views_left_out``), and the job goes on: a file that cannot be read, a cut-out with
nothing in it, an object too few pixels tall, or an object whose height in its own picture
(relative to that picture's height) is more than ``MAX_HEIGHT_RATIO`` times apart from the front's
in its crop (relative to the crop's height): a view framed that differently shows another thing
than the artist meant, or matting kept a fragment of it.

Every instance of a name (a name found several times) takes the same views, scaled once to the
first instance's cut-out: the instances of a name are one kind of object; a name's other
candidates (``variations``) share them too.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from img23d_protocol import ProtocolError, views_for
from PIL import Image

from ..readers.images import LoadedImage, load_image, read_picture_file
from ..runs.folders import TargetRecord
from ..stages.matting import MIN_FOREGROUND, UnusableMatte, foreground_fraction

log = logging.getLogger(__name__)

STAGE = "views"
FOLDER = "views_in"
VIEW_LEFT_OUT = "view_left_out"   # the manifest warning's code for a view not used
# A view's object height over its picture's height, against the front's over its crop's height:
# more than this many times apart and the view is left out. A crop is the box plus a margin of a
# tenth of its longer side (the object fills a third to 0.85 of its height, less for a tiny object
# grown to the smallest crop), and a photo of the object fills most of its own; a fifth of that is a
# photo of a scene, or a matte that kept a fragment.
MAX_HEIGHT_RATIO = 5.0
MIN_VIEW_HEIGHT = 16              # pixels: an object this short in its view has nothing to give
SOLID_ALPHA = 128                 # a pixel at least half opaque is the object's (as ``foreground_fraction``)
_SUFFIX = re.compile(r"\.[a-z0-9]{1,5}")


@dataclass(frozen=True)
class ObjectViews:
    """One object's pictures, as every stage after matting takes them."""

    front: Path                 # the object's front cut-out (RGBA PNG), as the job cut it
    sides: dict[str, Path]      # side -> its cut-out (RGBA PNG, matted, at the front's height and baseline)
    left_out: dict[str, str] = field(default_factory=dict)  # side -> the one sentence why that view was left out


@dataclass
class _View:
    """One view of a name on its way through: its picture, then its cut-out, or why it is left out."""

    side: str
    source: str
    loaded: LoadedImage | None = None
    cutout: Any = None
    left_out: str | None = None


def prepare_views(run: Any, firsts: list[TargetRecord], cutouts: dict[str, Any]) -> dict[str, ObjectViews]:
    """Read, keep, cut out and scale the views of ``run``'s names; returns each live record's views by stem
    (records of names without views have none) and fills ``TargetRecord.views`` / ``views_left_out``.
    ``firsts``: each target instance's first candidate; ``cutouts``: their front cut-outs by stem."""
    given = getattr(run.request, "views", None) or {}
    if not given:
        return {}
    records = run.run_folder.manifest.records
    found: dict[str, ObjectViews] = {}
    with run.stage(STAGE):
        for name in dict.fromkeys(r.target for r in firsts):  # each name once, in the job's order
            sides = views_for(given, name)
            usable = [r for r in firsts if r.target == name and r.status == "pending"
                      and isinstance(cutouts.get(r.stem), Image.Image)]
            if not sides or not usable:
                continue
            reference = usable[0]
            views = [_read(run, name, reference.stem, side, source) for side, source in sides.items()]
            _cut_out(run, views)
            kept: dict[str, Path] = {}
            for view in views:
                scaled = None if view.left_out else _scaled(run, name, reference.stem, view, cutouts[reference.stem])
                if scaled is not None:
                    kept[view.side] = scaled
                else:
                    _say_left_out(run, name, view)
            left_out = {v.side: v.left_out for v in views if v.left_out is not None}
            for record in records:  # every instance of the name, and each of their candidates
                if record.target != name or record.status != "pending":
                    continue
                record.views = {side: run.run_folder.relative(path) for side, path in kept.items()} or None
                record.views_left_out = left_out or None
                front = run.run_folder.path((record.completion.cutout if record.completion else None) or record.matte or "")
                found[record.stem] = ObjectViews(front=front, sides=dict(kept), left_out=dict(left_out))
    return found


def carry_views(run: Any, source_root: Path, old: TargetRecord, record: TargetRecord) -> ObjectViews | None:
    """A regeneration's object takes the views its Generate run cut out for it: each cut-out copied into
    the new run under the same name, for its shape to take as before; None when it had none. A cut-out
    gone from the source run, or a path that would lead out of it, is left out in one sentence."""
    if not old.views:
        return None
    kept: dict[str, Path] = {}
    left_out = dict(old.views_left_out or {})
    for side, name in old.views.items():
        path = (source_root / name).resolve()
        if source_root not in path.parents or not path.is_file():
            left_out[side] = f"the {side} view of {old.target!r} was left out: its cut-out is gone from the run"
            continue
        kept[side] = run.run_folder.write_bytes_with(name, lambda p, data=path.read_bytes(): p.write_bytes(data))
    record.views = {side: run.run_folder.relative(path) for side, path in kept.items()} or None
    record.views_left_out = left_out or None
    return ObjectViews(front=run.run_folder.path(record.matte or ""), sides=kept, left_out=left_out)


def _read(run: Any, name: str, stem: str, side: str, source: str) -> _View:
    """The view's picture, read as untrusted, and its file kept as given; or why it is left out."""
    view = _View(side=side, source=source)
    try:
        view.loaded = load_image(source)
        kept = read_picture_file(source)
    except ProtocolError as exc:
        view.left_out = f"the {side} view of {name!r} was left out: {exc.message}"
        return view
    suffix = Path(source).suffix.lower()
    suffix = suffix if _SUFFIX.fullmatch(suffix) else ".img"
    run.run_folder.write_bytes_with(f"{FOLDER}/{stem}/{side}.given{suffix}", lambda p: p.write_bytes(kept.data))
    if kept.sha256 != view.loaded.sha256:
        view.left_out = (f"the {side} view of {name!r} was left out: {Path(source).name} changed while it was read; "
                         "give it again once it is written")
    return view


def _cut_out(run: Any, views: list[_View]) -> None:
    """Each readable view's cut-out: its own alpha when it has a real one, else the job's matting model's."""
    to_matte = []
    for view in views:
        if view.left_out is not None or view.loaded is None:
            continue
        if view.loaded.has_alpha:
            view.cutout = view.loaded.image.convert("RGBA")
        else:
            to_matte.append(view)
    if to_matte:
        with run.manager.use("matting") as model:
            results = run.matte_all(model, [view.loaded.image for view in to_matte])
        for view, result in zip(to_matte, results):
            view.cutout = result
    for view in views:
        if view.left_out is None:
            view.left_out = _unusable(view)


def _unusable(view: _View) -> str | None:
    """Why the view's cut-out cannot be used, in words after "was left out: "; None when it can."""
    cutout, what = view.cutout, f"the {view.side} view"
    if isinstance(cutout, UnusableMatte):
        return f"{what} was left out: matting it failed ({cutout.reason})"
    if not isinstance(cutout, Image.Image):  # the job's OutOfMemory: matting ran out even alone
        return f"{what} was left out: matting it ran out of memory, even alone"
    if foreground_fraction(cutout) < MIN_FOREGROUND:
        return f"{what} was left out: matting found no object in it"
    return None


def object_rows(cutout: Image.Image) -> tuple[int, int, int, int] | None:
    """The solid part's bounding box (x0, y0, x1, y1), exclusive ends; None when nothing is solid."""
    solid = np.asarray(cutout.getchannel("A")) >= SOLID_ALPHA
    rows, columns = np.flatnonzero(solid.any(axis=1)), np.flatnonzero(solid.any(axis=0))
    if rows.size == 0:
        return None
    return int(columns[0]), int(rows[0]), int(columns[-1]) + 1, int(rows[-1]) + 1


def _scaled(run: Any, name: str, stem: str, view: _View, front: Image.Image) -> Path | None:
    """The view's cut-out at the front's height and baseline, written beside its given file; None, with
    ``view.left_out`` set (and nothing written), when its height is beyond what the artist could mean."""
    side_box, front_box = object_rows(view.cutout), object_rows(front)
    if side_box is None or front_box is None:
        view.left_out = f"the {view.side} view of {name!r} was left out: matting found no object in it"
        return None
    side_height, front_height = side_box[3] - side_box[1], front_box[3] - front_box[1]
    if side_height < MIN_VIEW_HEIGHT:
        view.left_out = (f"the {view.side} view of {name!r} was left out: its object is {side_height} pixels tall, "
                         f"fewer than the {MIN_VIEW_HEIGHT} a view needs")
        return None
    side_share, front_share = side_height / view.cutout.height, front_height / front.height
    ratio = side_share / front_share
    if not 1.0 / MAX_HEIGHT_RATIO <= ratio <= MAX_HEIGHT_RATIO:
        view.left_out = (f"the {view.side} view of {name!r} was left out: its object fills {side_share:.0%} of its "
                         f"picture's height where the front's fills {front_share:.0%} of its crop's, more than "
                         f"{MAX_HEIGHT_RATIO:g} times apart; give a picture framed on the object as the front is")
        return None
    picture = to_front_scale(view.cutout, side_box, front.size, front_box)
    return run.run_folder.write_image(f"{FOLDER}/{stem}/{view.side}.png", picture)


def to_front_scale(cutout: Image.Image, box: tuple[int, int, int, int], front_size: tuple[int, int],
                   front_box: tuple[int, int, int, int]) -> Image.Image:
    """``cutout``'s object (``box``) scaled to the front object's height (``front_box``), its lowest row
    on the front's, centred under the front's centre, on a transparent canvas of the front's height (as
    wide as the front's, or wider when the scaled object needs it, grown evenly about that centre)."""
    scale = (front_box[3] - front_box[1]) / (box[3] - box[1])
    width = max(1, round((box[2] - box[0]) * scale))
    height = front_box[3] - front_box[1]
    piece = cutout.crop(box).resize((width, height), Image.Resampling.LANCZOS)
    centre = (front_box[0] + front_box[2]) / 2
    left = max(0, int(np.ceil(width / 2 - centre)))
    right = max(0, int(np.ceil(centre + width / 2 - front_size[0])))
    grow = max(left, right)  # the same on both sides: the front's own canvas stays in the middle of it
    canvas = Image.new("RGBA", (front_size[0] + 2 * grow, front_size[1]), (0, 0, 0, 0))
    canvas.paste(piece, (int(round(centre + grow - width / 2)), front_box[1]))
    return canvas


def _say_left_out(run: Any, name: str, view: _View) -> None:
    """Once per view: the log, the progress and the manifest's warnings."""
    sentence = view.left_out or ""
    if f" view of {name!r} " not in sentence:  # the cut-out's sentences do not know the name
        sentence = sentence.replace(f"the {view.side} view ", f"the {view.side} view of {name!r} ", 1)
        view.left_out = sentence
    log.warning(sentence)
    run.progress(STAGE, 0, 1, sentence)
    run.run_folder.manifest.warnings.append({"stage": STAGE, "code": VIEW_LEFT_OUT, "message": sentence,
                                             "target": name, "side": view.side, "picture": view.source})
