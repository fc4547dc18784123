"""Turning the panel's inputs into a request, with a clear sentence for each bad input."""

from __future__ import annotations

from pathlib import Path

import bpy
import numpy as np
import img23d_protocol as protocol
from img23d_client import limits
from img23d_client.session import BackendSession

from .. import box_properties, job_costs, made_pictures, object_views, preferences, retexture_mesh


class InputError(Exception):
    """Something the artist can fix; the message is shown as is."""


def image_file(context: bpy.types.Context) -> tuple[Path, str]:
    """The image to send (a file on disk) and the name for the run's collection. A picture made from a prompt is
    sent as a file named from its prompt (``made_pictures.made_name``), so its run, collection and (with no names)
    object are "wooden barrel beside", not "<time>-input" after its file or a run's long name after its image."""
    settings = context.scene.img23d
    if settings.image_source == "DATABLOCK":
        image = settings.image
        if image is None:
            raise InputError("No image selected: pick an image in the img23d panel")
        made = made_pictures.made_name(image)
        if made:
            return _datablock_file(image, made, own_file=False), made
        return _datablock_file(image, bpy.path.clean_name(image.name)), Path(image.name).stem or image.name
    if not settings.image_path.strip():
        raise InputError("No image file chosen: pick one in the img23d panel")
    path = Path(bpy.path.abspath(settings.image_path))
    if path.is_dir():
        raise InputError(f"{path} is a folder, not an image file: pick an image file in the img23d panel")
    if not path.is_file():
        raise InputError(f"Image file not found: {path}")
    return path, path.stem


def picked_made_from(context: bpy.types.Context) -> tuple[str, int | None]:
    """The picked image's prompt and seed when img23d made it (``made_pictures.made_from``), sent beside it so that
    its run's manifest says what its picture was made from; ("", None) for a file or any other image."""
    settings = context.scene.img23d
    if settings.image_source != "DATABLOCK" or settings.image is None:
        return "", None
    return made_pictures.made_from(settings.image)


def image_picked(context: bpy.types.Context) -> bool:
    """Whether the panel has an image picked (a file named, or an image of the .blend chosen)."""
    settings = context.scene.img23d
    if settings.image_source == "DATABLOCK":
        return settings.image is not None
    return bool(settings.image_path.strip())


def prompt(context: bpy.types.Context, required: bool = True) -> str:
    """The panel's Prompt, checked as the backend checks it (``protocol.validate_prompt``: spaces only, too long,
    control characters), each refusal the protocol's sentence; ``required``: none is refused too (Make Picture)."""
    try:
        text = protocol.validate_prompt(context.scene.img23d.prompt)
        if required and not text:
            protocol.check_picture_prompt(text)
    except protocol.ProtocolError as exc:
        raise InputError(exc.message[:1].upper() + exc.message[1:]) from exc
    return text


def picture_or_prompt(context: bpy.types.Context) -> tuple[Path | None, str, str]:
    """Generate's picture, else its prompt (used when no image is picked): ``(image, prompt, run name)``, one of
    the first two given; with neither, one sentence naming what is missing as the panel shows it."""
    if image_picked(context):
        image, name = image_file(context)
        return image, "", name
    text = prompt(context, required=False)
    if not text:
        missing = "No image selected" if context.scene.img23d.image_source == "DATABLOCK" else "No image file chosen"
        raise InputError(f"{missing} and no prompt typed: pick an image in the img23d panel, or type what the "
                         "picture should show in Prompt")
    return None, text, prompt_run_name(text)


def prompt_run_name(text: str) -> str:
    """How a run made from a prompt names its collection: as the backend names its folder and its one object."""
    return protocol.name_from_prompt(text)


def _datablock_file(image: bpy.types.Image, stem: str, own_file: bool = True) -> Path:
    """An image already in the .blend as a file to send: its own file if it has one, Blender shows it as it is there
    and ``own_file``; else, in the runs folder's inputs and named ``stem`` (a file name's stem), its file's bytes
    (packed in the .blend, as a made picture is so that a moved .blend keeps it, or on disk), or a PNG of the pixels
    Blender shows: a picture painted in Blender and not saved was sent as the file on disk, and one whose file had
    gone named an internal copy with "no image data"."""
    own = Path(bpy.path.abspath(image.filepath)) if image.source == "FILE" and not image.is_dirty else None
    on_disk = own is not None and not image.packed_file and own.is_file()
    if own_file and on_disk:
        return own
    folder = preferences.get().launch_settings().runs_dir / "_inputs"
    folder.mkdir(parents=True, exist_ok=True)
    if own is not None and (on_disk or image.packed_file):  # its file's own bytes, not its pixels written anew
        path = folder / f"{stem}{own.suffix.lower() or '.png'}"
        try:
            path.write_bytes(own.read_bytes() if on_disk else image.packed_file.data)
        except OSError as exc:
            raise InputError(f"Image '{image.name}' could not be written to {path}: {exc}") from exc
        return path
    path = folder / f"{stem}.png"
    width, height = image.size
    if width == 0 or height == 0:
        raise InputError(f"Image '{image.name}' has no pixels (missing file?)")
    pixels = np.empty(width * height * 4, dtype=np.float32)
    image.pixels.foreach_get(pixels)
    # As Blender holds it: a float image's pixels stay linear, in its own colour space, as the copy had them.
    shown = bpy.data.images.new(f"{image.name} (sent)", width, height, alpha=True, float_buffer=image.is_float)
    try:
        shown.colorspace_settings.name = image.colorspace_settings.name
        shown.pixels.foreach_set(pixels)
        shown.filepath_raw = str(path)
        shown.file_format = "PNG"
        shown.save()
    except RuntimeError as exc:
        raise InputError(f"Image '{image.name}' could not be written to {path}: {exc}") from exc
    finally:
        bpy.data.images.remove(shown)
    return path


def views(context: bpy.types.Context, names: list[str]) -> tuple[dict[str, dict[str, str]], list[str]]:
    """Generate's views ({name: {side: file}}, ``object_views``) and one sentence for each left out (no
    picture, a file that is not there): the job goes on without it. Views of a name not in the job: refused."""
    chosen: dict[str, dict[str, str]] = {}
    notes: list[str] = []
    spelled: dict[str, str] = {}  # a name's views go together whatever their capitals, as the panel shows them
    for view in context.scene.img23d.views:
        path = _view_file(view, notes)
        if path is None:
            continue
        folded = view.target.casefold()
        target = spelled.setdefault(folded, next((n for n in names if n.casefold() == folded), view.target))
        if view.side in chosen.get(target, {}):
            raise InputError(f"The {view.side} of '{target}' has two pictures: remove one")
        chosen.setdefault(target, {})[view.side] = str(path)
    try:
        checked = protocol.validate_views(chosen)
        protocol.check_views(checked, names)
    except protocol.ProtocolError as exc:
        raise InputError(exc.message[0].upper() + exc.message[1:]) from exc
    return checked, notes


def retexture_views(context: bpy.types.Context) -> tuple[dict[str, str], list[str]]:
    """Re-texture's views of the mesh ({side: file}) and one sentence for each left out."""
    notes: list[str] = []
    chosen = {view.side: str(path) for view in context.scene.img23d.retexture_views
              if (path := _view_file(view, notes)) is not None}
    try:
        return protocol.validate_side_views(chosen), notes
    except protocol.ProtocolError as exc:
        raise InputError(exc.message[0].upper() + exc.message[1:]) from exc


def _view_file(view: "object_views.Img23dView", notes: list[str]) -> Path | None:
    """The file to send for ``view``; None, with its sentence added to ``notes``, when it cannot be used."""
    owner = view.owner()
    left_out = f"{owner[0].upper()}{owner[1:]} was left out"
    if view.source == "DATABLOCK":
        if view.image is None:
            notes.append(f"{left_out}: no image is chosen for it")
            return None
        try:  # packed or generated: written to the runs folder's inputs, as the main picture is
            return _datablock_file(view.image, bpy.path.clean_name(f"view {view.target} {view.side} {view.image.name}"))
        except InputError as exc:
            notes.append(f"{left_out}: {exc}")
            return None
    if not view.path.strip():
        notes.append(f"{left_out}: no picture file is chosen for it")
        return None
    path = Path(bpy.path.abspath(view.path))
    if not path.is_file():
        notes.append(f"{left_out}: its picture file {path} is not there")
        return None
    return path


def boxes(context: bpy.types.Context, names: list[str]) -> dict[str, list[float]]:
    """The boxes in use for Generate (``box_properties``), checked against the names. Whether each
    lies inside the picture the backend checks, in the picture as it reads it (upright, by its
    orientation tag, which Blender's image does not apply)."""
    chosen = box_properties.boxes_in_use(context.scene.img23d.boxes)
    if not chosen:
        return {}
    try:
        checked = protocol.validate_boxes(chosen)
        protocol.check_boxes(checked, names)
    except protocol.ProtocolError as exc:
        raise InputError(exc.message[0].upper() + exc.message[1:]) from exc
    return checked


def completion_off(context: bpy.types.Context, names: list[str]) -> list[str]:
    """The names whose Complete the artist turned off in Boxes: kept as seen whatever Complete Hidden says."""
    return box_properties.completion_off(context.scene.img23d.boxes, names)


def names(context: bpy.types.Context) -> list[str]:
    """The names typed (a name's parts in brackets left aside: only Generate makes them)."""
    return names_and_parts(context)[0]


def names_and_parts(context: bpy.types.Context) -> tuple[list[str], dict[str, list[str]]]:
    """The names typed and those written with their parts, "lamp (shade, arm), table" (one sentence if wrong)."""
    settings = context.scene.img23d
    try:
        return protocol.parted_names_from_text(settings.targets, settings.bl_rna.properties["targets"].name)
    except protocol.ProtocolError as exc:
        raise InputError(exc.message[:1].upper() + exc.message[1:]) from exc


def options(context: bpy.types.Context) -> "protocol.JobOptions":
    settings = context.scene.img23d
    try:
        options = settings.job_options(preferences.get(context).shape_model())
        # The licences the artist accepted: the backend downloads a restricted model only under those.
        options.accepted_licences = preferences.get(context).accepted_licence_keys()
        return options
    except protocol.OptionError as exc:
        # Name the field as the panel shows it ("Texture Size"), with the range the backend allows.
        field = settings.bl_rna.properties.get(exc.option)
        label = field.name if field is not None else exc.option
        raise InputError(f"{label} {exc.value!r} is out of range: it must be {exc.allowed}") from exc
    except protocol.ProtocolError as exc:
        raise InputError(exc.message) from exc


def check_limits(context: bpy.types.Context, options: "protocol.JobOptions", session: BackendSession,
                 shapes: bool = True) -> None:
    """Refuse settings above what the running backend's memory holds (its hello's limits),
    naming the field as the panel shows it, or the Quality preset the value came from (``shapes``
    False: a re-texture, whose octree resolution is unused). With no backend up yet the session
    checks the job when the hello comes (``limits.refusal``)."""
    hello = session.current_hello()
    over = protocol.over_limits(options, hello.limits if hello is not None else None, shapes=shapes)
    if not over:
        return
    name, value, limit = over[0]
    settings = context.scene.img23d
    label = settings.bl_rna.properties[name].name
    if getattr(settings, name, None) == 0:  # 0 in the panel: the Quality preset's value
        quality = settings.bl_rna.properties["quality"].enum_items[settings.quality].name
        raise InputError(f"Quality {quality} uses {label} {value}, more than the backend's "
                         f"{limits.backend_memory(hello)} can hold (at most {limit}): "
                         f"choose a lower Quality or set {label}")
    raise InputError(limits.too_big(label, value, limit, hello))


def estimate_request(context: bpy.types.Context,
                     request: "protocol.GenerateRequest | None" = None) -> "protocol.EstimateRequest | None":
    """The estimate request of Generate's ``request`` (its every field), or, without one, of the Generate the
    panel's inputs would send now (read as Generate reads them, nothing written: the picture's path does not
    count, only whether there is one); None while an input has a mistake, which Generate will say."""
    if request is not None:
        return protocol.EstimateRequest.of(request)
    try:
        image = "picked" if image_picked(context) else ""
        text = "" if image else prompt(context, required=False)
        if not (image or text):
            return None
        names_typed, parts = names_and_parts(context)
        settings = context.scene.img23d
        return protocol.EstimateRequest(image=image, prompt=text, targets=names_typed, options=options(context),
                                        boxes=boxes(context, names_typed),
                                        completion_off=completion_off(context, names_typed), parts=parts,
                                        parts_grid=int(settings.parts_grid) if parts else 0)
    except InputError:
        return None


def check_cost(context: bpy.types.Context, session: BackendSession, request: "protocol.GenerateRequest") -> None:
    """Refuse a Generate that the running backend estimates at an hour or more (its whole estimate of these very
    fields, as the panel asked it: ``job_costs.whole_estimate``), unless Accept Long Job is ticked, in the backend's
    own sentence. Nothing waits for an answer that has not come (a script, a click before it came, no backend up
    yet): the backend weighs the job as it arrives, by the same estimate, and refuses it in the same sentence
    (``long_job_not_accepted``)."""
    estimate = job_costs.whole_estimate(session, estimate_request(context, request), ask=False)
    sentence = job_costs.refusal(estimate, context.scene.img23d.accept_long)
    if sentence:
        raise InputError(sentence)


def mesh_file(context: bpy.types.Context, obj: bpy.types.Object, evaluated: bool = False,
              most: tuple[int, str] | None = None) -> str:
    """``obj``'s mesh (object space) written for the backend: its own vertices in their order (a rig's weights are
    theirs), or with ``evaluated`` as its modifiers make it (what the artist sees); one sentence when it cannot be,
    or when it has more triangles than ``most`` (the job's limit and who holds it; img23d's by default)."""
    folder = preferences.get(context).launch_settings().runs_dir / "_inputs"
    try:
        path, _ = retexture_mesh.write_mesh_file(context, obj, folder, evaluated=evaluated, painted=False, most=most)
    except retexture_mesh.MeshProblem as exc:
        raise InputError(str(exc)) from exc
    except OSError as exc:
        raise InputError(f"could not write the mesh for the backend to {folder}: {exc}") from exc
    return str(path)


def mesh_in_object_mode(context: bpy.types.Context, doing: str, doing_it: str) -> bpy.types.Object:
    """The one selected mesh a job reads (``retexture_mesh.check_selection``), in Object Mode: in Edit Mode its
    mesh data lags behind the edit. ``doing`` and ``doing_it`` name the job in the sentences ("retopologize",
    "retopologize it")."""
    try:
        obj = retexture_mesh.check_selection(context)
    except retexture_mesh.MeshProblem as exc:
        raise InputError(str(exc).replace("re-texture", doing)) from exc
    if obj.mode == "EDIT":
        raise InputError(f"'{obj.name}' is in Edit Mode: go back to Object Mode to {doing_it}")
    return obj
