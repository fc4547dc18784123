"""The views as given: each read as untrusted, kept, cut out, and (a Generate's) brought to its front's scale.

The artist gives pictures of an object from its left, back and right (``GenerateRequest.views`` by
name, ``RetextureRequest.views`` for the mesh: ``img23d_protocol.views``); the front is the job's
own picture. Every job reads them here, once (``read_views``): each view's file kept as given
(``views_in/<stem>/<side>.given.<ext>``, a file that is no picture too), read with the project's
guards (``readers.images``: its sentence when it cannot be), and cut out: matted by the job's
matting model (BiRefNet, all of a job's views in one batch) unless it has a real alpha channel.

A Generate reads its names' views before its completion (``read_given``), which shows the editor
these cut-outs; afterwards (``prepare_views``) each cut-out is brought to one scale with the front's:
the object as tall as the front cut-out's object, standing on the same baseline (its lowest row),
centred under the front's, on a canvas as tall as the front cut-out (``views_in/<name-stem>/<side>.png``,
RGBA). hy3dgen's own image processor scales every view to its own bounding box, which makes a back
photo taken from further away a smaller object; here the front's height is the one scale. A
Re-texture keeps each cut-out as matted (``jobs.kinds.retexture``): the projection fits it to the mesh.

A view that cannot be used is left out with one sentence (a Generate's: the job's warnings, the
progress, its targets' ``views_left_out``), and the job goes on: a file that cannot be read, a cut-out with
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
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
from img23d_protocol import ProtocolError, views_for
from PIL import Image

from ..readers.images import LoadedImage, load_image, read_picture_file
from ..runs.folders import TargetRecord
from ..matting import driver as matting
from ..matting.driver import MIN_FOREGROUND, UnusableMatte, foreground_fraction
from ..stages.step_context import StepContext

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
# A view's object, width over height, against the front's: more than this many times apart (either way)
# and it is left out before it is scaled. A side of a long bench is about four times narrower for its
# height than its front; a 6000 x 30 strip scaled to the front's height made a 161,386 x 928 canvas.
MAX_ASPECT_RATIO = 8.0
SOLID_ALPHA = 128                 # a pixel at least half opaque is the object's (as ``foreground_fraction``)
_SUFFIX = re.compile(r"\.[a-z0-9]{1,5}")


@dataclass(frozen=True)
class ObjectViews:
    """One object's pictures, as every stage after matting takes them."""

    front: Path                 # the object's front cut-out (RGBA PNG), as the job cut it
    sides: dict[str, Path]      # side -> its cut-out (RGBA PNG, matted, at the front's height and baseline)
    left_out: dict[str, str] = field(default_factory=dict)  # side -> the one sentence why that view was left out


@dataclass
class GivenView:
    """One view on its way through: its picture, then its cut-out, or why it is left out."""

    side: str
    source: str
    loaded: LoadedImage | None = None  # while it is read and cut out; let go after
    permissions: int = 0o777           # its file's: the copies in the run are no more readable
    cutout: Image.Image | None = None  # its own alpha, or the job's matting model's cut-out; None when left out
    why: str | None = None             # why it is left out, in words after "... view was left out: "


@dataclass(frozen=True)
class NameViews:
    """A name's views as a Generate reads, keeps and cuts them out, once, before its completion: the
    completion shows the editor these cut-outs, and ``prepare_views`` brings them to the front's scale."""

    name: str
    stem: str                       # its first usable instance's: its folder in views_in/, its cut-out the scale
    views: tuple[GivenView, ...]


def read_views(run: StepContext, wanted: Mapping[str, Mapping[str, str]]) -> dict[str, list[GivenView]]:
    """Each view of ``wanted`` (stem -> side -> picture) read as untrusted, its file kept as given
    (``views_in/<stem>/<side>.given.<ext>``, also when it is no picture), and cut out: by its own alpha
    when it has a real one, else by the job's matting model. One view at a time, its decoded picture
    let go once it is cut out: a 4096 x 4096 view holds about 290 MB while it is read and matted, and
    six names with three views each held at once came to 5.8 GB. A view that cannot be read or cut out
    keeps why (``GivenView.why``), for its job to say in its own sentence."""
    read: dict[str, list[GivenView]] = {stem: [] for stem in wanted}
    with ExitStack() as stack:
        model: Any = None
        for stem, sides in wanted.items():
            for side, source in sides.items():
                view = _read(run, stem, side, source)
                if view.why is None and view.loaded is not None and not view.loaded.has_alpha and model is None:
                    model = stack.enter_context(run.manager.use("matting"))  # loaded once, for the first to need it
                _cut_out(run, view, model)
                read[stem].append(view)
    return read


def read_given(run: StepContext, firsts: list[TargetRecord], cutouts: Mapping[str, Any]) -> dict[str, NameViews]:
    """The views of ``run``'s names, read, kept and cut out (``read_views``) in the views stage, before the
    completion: each name with views and a target cut out, by name. ``firsts``: each target instance's first
    candidate; ``cutouts``: their front cut-outs by stem (as matted: the completion has not run yet)."""
    given = getattr(run.request, "views", None) or {}  # a Regenerate request has none
    wanted: dict[str, tuple[str, dict[str, str]]] = {}  # name -> (its first usable instance's stem, its views)
    for name in dict.fromkeys(r.target for r in firsts):  # each name once, in the job's order
        sides = views_for(given, name)
        usable = [r for r in firsts if r.target == name and r.status == "pending"
                  and isinstance(cutouts.get(r.stem), Image.Image)]
        if sides and usable:
            wanted[name] = (usable[0].stem, sides)
    if not wanted:
        return {}
    with run.stage(STAGE):
        read = read_views(run, {stem: sides for stem, sides in wanted.values()})
    for stem, _ in wanted.values():
        # A view left out is left out of the completion too: judged beside the cut-out as matted, it steered the
        # editor's drawing of the hidden part before the job said it was left out.
        for view in read[stem]:
            if view.cutout is not None and (why := unfit(view.cutout, cutouts[stem])) is not None:
                view.why, view.cutout = why, None
    return {name: NameViews(name, stem, tuple(read[stem])) for name, (stem, _) in wanted.items()}


def prepare_views(run: StepContext, given: Mapping[str, NameViews],
                  cutouts: Mapping[str, Any]) -> dict[str, ObjectViews]:
    """``given`` (``read_given``'s) brought to the scale of each name's front cut-out (``cutouts``: as the
    job goes on with them, completed where the completion ran) and written; returns each live record's
    views by stem (records of names without views have none) and fills ``TargetRecord.views`` /
    ``views_left_out``; each view left out is said once (``_say_left_out``)."""
    records = run.run_folder.manifest.records
    found: dict[str, ObjectViews] = {}
    for name, name_views in given.items():
        kept: dict[str, Path] = {}
        for view in name_views.views:
            scaled = None if view.cutout is None else _scaled(run, name_views.stem, view, view.cutout,
                                                               cutouts[name_views.stem])
            if scaled is not None:
                kept[view.side] = scaled
            else:
                _say_left_out(run, name, view)
        left_out = {v.side: _sentence(name, v) for v in name_views.views if v.why is not None}
        for record in records:  # every instance of the name, and each of their candidates
            if record.target != name or record.status != "pending":
                continue
            record.views = {side: run.run_folder.relative(path) for side, path in kept.items()} or None
            record.views_left_out = left_out or None
            front = run.run_folder.path((record.completion.cutout if record.completion else None) or record.matte or "")
            found[record.stem] = ObjectViews(front=front, sides=dict(kept), left_out=dict(left_out))
    return found


def carry_views(run: StepContext, source_root: Path, old: TargetRecord, record: TargetRecord) -> ObjectViews | None:
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


def _read(run: StepContext, stem: str, side: str, source: str) -> GivenView:
    """The view's file kept as given, then its picture read as untrusted; or why it is left out."""
    view = GivenView(side=side, source=source)
    try:
        kept = read_picture_file(source)
    except ProtocolError as exc:
        view.why = exc.message
        return view
    if kept.sha256 == run.run_folder.manifest.image.get("sha256"):
        # The front's own file given again as a side: it would paint the front's colours onto that side.
        view.why = f"{Path(source).name} is the main picture itself; give a picture taken from the {side}"
        return view
    suffix = Path(source).suffix.lower()
    suffix = suffix if _SUFFIX.fullmatch(suffix) else ".img"
    view.permissions = kept.permissions
    run.run_folder.keep_private(kept.permissions)
    run.run_folder.write_bytes_with(f"{FOLDER}/{stem}/{side}.given{suffix}", lambda p: p.write_bytes(kept.data),
                                    kept.permissions)
    try:
        view.loaded = load_image(source)
    except ProtocolError as exc:
        view.why = exc.message
        return view
    if kept.sha256 != view.loaded.sha256:
        view.why = f"{Path(source).name} changed while it was read; give it again once it is written"
    return view


def _cut_out(run: StepContext, view: GivenView, model: Any) -> None:
    """The readable view's cut-out: its own alpha when it has a real one, else the job's matting model's
    (``model``); then its decoded picture is let go (only the cut-out goes on)."""
    loaded = view.loaded
    if view.why is not None or loaded is None:
        return
    if loaded.has_alpha:
        cutout = loaded.image.convert("RGBA")
    else:
        [cutout] = matting.matte_all(run, model, [loaded.image])
    view.why = _unusable(cutout)
    view.cutout = cutout if view.why is None else None
    view.loaded = None  # its pixels live on in the cut-out alone


def _unusable(cutout: Any) -> str | None:
    """Why a view's cut-out cannot be used, in words after "was left out: "; None when it can."""
    if isinstance(cutout, UnusableMatte):
        return f"matting it failed ({cutout.reason})"
    if not isinstance(cutout, Image.Image):  # an OutOfMemory: matting ran out even alone
        return "matting it ran out of memory, even alone"
    if foreground_fraction(cutout) < MIN_FOREGROUND:
        return "matting found no object in it"
    return None


def object_rows(cutout: Image.Image) -> tuple[int, int, int, int] | None:
    """The solid part's bounding box (x0, y0, x1, y1), exclusive ends; None when nothing is solid."""
    solid = np.asarray(cutout.getchannel("A")) >= SOLID_ALPHA
    rows, columns = np.flatnonzero(solid.any(axis=1)), np.flatnonzero(solid.any(axis=0))
    if rows.size == 0:
        return None
    return int(columns[0]), int(rows[0]), int(columns[-1]) + 1, int(rows[-1]) + 1


Box = tuple[int, int, int, int]   # an object's (x0, y0, x1, y1) in its picture, exclusive ends (``object_rows``)


def too_short(cutout: Image.Image) -> str | None:
    """Why a view's cut-out has too few pixels to give (no solid object, or one under ``MIN_VIEW_HEIGHT``), or
    None: what a Generate's view and a Re-texture's are both held to."""
    return _too_short(object_rows(cutout))


def _too_short(box: Box | None) -> str | None:
    if box is None:
        return "matting found no object in it"
    height = box[3] - box[1]
    return f"its object is {height} pixels tall, fewer than the {MIN_VIEW_HEIGHT} a view needs" \
        if height < MIN_VIEW_HEIGHT else None


def unfit(cutout: Image.Image, front: Image.Image) -> str | None:
    """Why a view's cut-out is beyond what the artist could mean beside the front cut-out ``front`` (too few
    pixels, framed far unlike it, of another shape), or None."""
    return _judged(cutout, front)[0]


def _judged(cutout: Image.Image, front: Image.Image) -> tuple[str | None, Box | None, Box | None]:
    """``unfit``'s answer, with the view's and the front's object boxes it was judged by."""
    side_box, front_box = object_rows(cutout), object_rows(front)
    if (short := _too_short(side_box)) is not None:
        return short, side_box, front_box
    if side_box is None or front_box is None:
        return "matting found no object in it", side_box, front_box
    side_height, front_height = side_box[3] - side_box[1], front_box[3] - front_box[1]
    side_share, front_share = side_height / cutout.height, front_height / front.height
    ratio = side_share / front_share
    if not 1.0 / MAX_HEIGHT_RATIO <= ratio <= MAX_HEIGHT_RATIO:
        return (f"its object fills {side_share:.0%} of its picture's height where the front's fills "
                f"{front_share:.0%} of its crop's, more than {MAX_HEIGHT_RATIO:g} times apart; give a picture "
                "framed on the object as the front is"), side_box, front_box
    side_aspect = (side_box[2] - side_box[0]) / side_height
    front_aspect = (front_box[2] - front_box[0]) / front_height
    if not 1.0 / MAX_ASPECT_RATIO <= side_aspect / front_aspect <= MAX_ASPECT_RATIO:
        return (f"its object is {side_aspect:.3g} times as wide as it is tall where the front's is "
                f"{front_aspect:.3g}, more than {MAX_ASPECT_RATIO:g} times apart; give a picture of the "
                "whole object from that side"), side_box, front_box
    return None, side_box, front_box


def _scaled(run: StepContext, stem: str, view: GivenView, cutout: Image.Image, front: Image.Image) -> Path | None:
    """The view's cut-out (``cutout``) at the front's height and baseline, written beside its given file;
    None, with ``view.why`` set (and nothing written), when it is beyond what the artist could mean (``unfit``)."""
    why, side_box, front_box = _judged(cutout, front)
    if why is not None or side_box is None or front_box is None:
        view.why = why
        return None
    picture = to_front_scale(cutout, side_box, front.size, front_box)
    return run.run_folder.write_image(f"{FOLDER}/{stem}/{view.side}.png", picture, view.permissions)


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


def _sentence(name: str, view: GivenView) -> str:
    """A Generate's one sentence for a view of ``name`` left out."""
    return f"the {view.side} view of {name!r} was left out: {view.why}"


def _say_left_out(run: StepContext, name: str, view: GivenView) -> None:
    """Once per view: the log, the progress and the manifest's warnings."""
    sentence = _sentence(name, view)
    log.warning(sentence)
    run.progress(STAGE, 0, 1, sentence)
    run.run_folder.manifest.warnings.append({"stage": STAGE, "code": VIEW_LEFT_OUT, "message": sentence,
                                             "target": name, "side": view.side, "picture": view.source})
