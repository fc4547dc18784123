"""The sidebar panel in the 3D viewport (tab "img23d")."""

from __future__ import annotations

import bpy
import img23d_protocol as protocol
from img23d_client.session import State

from .. import job_costs, made_pictures, model_choices, preferences, runtime
from ..operators import _inputs
from . import views
from .parts import draw_model_licence, draw_parts

STATE_ICONS = {State.STOPPED: "PAUSE", State.STARTING: "SORTTIME", State.READY: "CHECKMARK",
               State.BUSY: "PLAY", State.ERROR: "ERROR"}


class IMG23D_PT_main(bpy.types.Panel):
    bl_idname = "IMG23D_PT_main"
    bl_label = "img23d"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "img23d"

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        settings = context.scene.img23d
        draw_image(layout, settings)
        runner = runtime.active_runner
        draw_prompt(layout, settings, runner is None or runner.finished)
        names = layout.row(align=True)
        names.prop(settings, "targets")
        suggest = names.row(align=True)
        suggest.enabled = runner is None or runner.finished
        suggest.operator("img23d.suggest", text="Suggest", icon="VIEWZOOM")
        if "(" in settings.targets:  # a name with its parts in brackets: made in parts by the parts model too
            draw_model_licence(layout, model_choices.default_parts_model())
        row = layout.row(align=True)
        row.prop(settings, "texture")
        row.prop(settings, "all_instances")
        materials = layout.row(align=True)
        materials.enabled = settings.texture  # greyed: maps are baked beside a painted colour only
        materials.prop(settings, "materials")
        hello = backend_hello()
        note = job_costs.materials_note(hello) if settings.texture and settings.materials else ""
        if note:  # beside the toggle: what keeping it on costs on this CPU
            layout.label(text=note, icon="TIME")
        completion = layout.row(align=True)
        completion.prop(settings, "complete_hidden")
        if settings.complete_hidden != "never":
            completion.prop(settings, "edit_size", text="")
        draw_long_job(layout, context, hello)
        layout.prop(settings, "quality")
        model = preferences.get(context).shape_model()
        layout.label(text=steps_label(settings.steps, model))
        if model.labels:  # Step1X-3D's Label model: its two labels
            labels = layout.row(align=True)
            labels.prop(settings, "symmetry")
            labels.prop(settings, "edges")
        draw_seed(layout, settings)
        layout.prop(settings, "variations")
        draw_actions(layout, context)
        draw_pictures(layout, context)
        draw_backend(layout)


def backend_hello() -> "protocol.Hello | None":
    """The running backend's hello, as the session holds it (nothing is asked of the backend)."""
    session = runtime.session() if runtime.has_session() else None
    return session.current_hello() if session is not None else None


def draw_long_job(layout: bpy.types.UILayout, context: bpy.types.Context, hello: "protocol.Hello | None") -> None:
    """Above Accept Long Job, the backend's own estimate of the Generate the panel's inputs would send, when it
    says hours (asked of the backend that sent ``hello``, as the inputs change: ``job_costs.whole_estimate``;
    nothing is started for it)."""
    up = hello is not None   # a backend up with these preferences (backend_hello): the only one asked
    estimate = job_costs.whole_estimate(runtime.session(), _inputs.estimate_request(context)) if up else None
    lines = job_costs.long_job_lines(estimate)
    if lines:
        box = layout.box()
        for number, line in enumerate(lines):
            box.label(text=line, icon="ERROR" if number == 0 else "NONE")
        box.prop(context.scene.img23d, "accept_long")


def steps_label(asked: int, model: "protocol.ShapeModelKind") -> str:
    """The shape steps a job will run, as the backend decides them (the model's own unless asked)."""
    return f"Steps: {model.steps_for(asked)} ({'set in Advanced' if asked else model.label})"


def draw_seed(layout: bpy.types.UILayout, settings: bpy.types.PropertyGroup) -> None:
    row = layout.row(align=True)
    seed = row.row(align=True)
    seed.enabled = not settings.random_seed
    seed.prop(settings, "seed")
    row.prop(settings, "random_seed", text="", icon="FILE_REFRESH")
    if settings.random_seed and settings.last_seed >= 0:
        layout.label(text=f"Last job's seed: {settings.last_seed}")


def draw_image(layout: bpy.types.UILayout, settings: bpy.types.PropertyGroup) -> None:
    layout.prop(settings, "image_source", expand=True)
    if settings.image_source == "FILE":
        layout.prop(settings, "image_path", text="")
    else:
        layout.template_ID(settings, "image", open="image.open")
    image = settings.image if settings.image_source == "DATABLOCK" else settings.file_image
    if image is not None and image.preview is not None:
        layout.template_icon(icon_value=image.preview.icon_id, scale=6.0)
    elif settings.image_source == "FILE" and settings.thumbnail_note:
        layout.label(text=settings.thumbnail_note, icon="INFO")


def draw_prompt(layout: bpy.types.UILayout, settings: bpy.types.PropertyGroup, idle: bool) -> None:
    """The Prompt (used when no image is picked) and Make Picture, which makes the picture alone and picks it."""
    row = layout.row(align=True)
    row.prop(settings, "prompt")
    if protocol.has_content(settings.prompt) and settings.complete_hidden == "never":  # else beside Complete Hidden
        row.prop(settings, "edit_size", text="")  # the picture's side too
    if made_pictures.prompt_unused(settings):  # Generate says it in full; here, before it is pressed
        layout.label(text="Prompt not used while an image is picked: Make Picture uses it", icon="INFO")
    make = layout.row(align=True)
    make.enabled = idle
    make.prop(settings, "picture_variations")  # Make Picture's own count, beside it (Generate's is Variations)
    make.operator("img23d.make_picture", text="Make Picture", icon="IMAGE_DATA")


def draw_actions(layout: bpy.types.UILayout, context: bpy.types.Context) -> None:
    runner = runtime.active_runner
    busy = runner is not None and not runner.finished
    row = layout.row(align=True)
    row.enabled = not busy
    variations = context.scene.img23d.variations
    # The count on the button: a Generate of N candidates a name takes N times as long.
    row.operator("img23d.generate", icon="MESH_MONKEY",
                 text=f"Generate ({variations} of each name)" if variations > 1 else "Generate")
    row.operator("img23d.detect", icon="ZOOM_SELECTED")
    row = layout.row(align=True)
    row.enabled = not busy
    # Enabled for a mesh selection only; a script calling it otherwise gets a clear report.
    retexture = row.row(align=True)
    active = context.active_object
    retexture.enabled = active is not None and active.type == "MESH"
    retexture.operator("img23d.retexture", icon="TEXTURE")
    retexture.operator("img23d.retopologize", text="Retopologize", icon="MOD_REMESH")
    row.operator("img23d.import_run", icon="IMPORT")
    draw_parts(layout, context, not busy and active is not None and active.type == "MESH")
    if preferences.get(context).backend == "SSH":
        layout.operator("img23d.import_host_run", icon="URL")
    regenerate = layout.row(align=True)
    regenerate.enabled = not busy and active is not None and active.type == "MESH" and bool(active.get("img23d_run"))
    regenerate.operator("img23d.regenerate", icon="FILE_REFRESH")
    if active is not None and active.get("img23d_candidate_of"):
        regenerate.operator("img23d.keep_variation", icon="CHECKMARK")
    if busy:
        layout.operator("img23d.cancel", icon="CANCEL")


def draw_pictures(layout: bpy.types.UILayout, context: bpy.types.Context) -> None:
    """The run's pictures (the active object's run, else the last job's) and the guide."""
    row = layout.row(align=True)
    pictures = row.row(align=True)
    pictures.enabled = runtime.current_run(context) is not None
    pictures.operator("img23d.show_run_picture", text="Layout", icon="VIEW_ORTHO").picture = "LAYOUT"
    pictures.operator("img23d.show_run_picture", text="Detections", icon="IMAGE_DATA").picture = "DETECTIONS"
    help_button(row, "IMG23D_PT_main", text="Help")


def draw_backend(layout: bpy.types.UILayout) -> None:
    session = runtime.session() if runtime.has_session() else None
    state = session.state if session is not None else State.STOPPED
    box = layout.box()
    row = box.row()
    remote = session.remote_host if session is not None else None
    row.label(text=f"Backend: {state.value}" + (f" on {remote}" if remote else ""), icon=STATE_ICONS[state])
    if state in (State.STOPPED, State.ERROR):
        row.operator("img23d.backend_start", text="Start")
    else:
        row.operator("img23d.backend_stop", text="Stop")
    if session is None:
        return
    progress = session.progress
    if state is State.BUSY and progress is not None:
        fraction = progress.step / progress.total if progress.total else 0.0
        box.progress(factor=fraction, type="BAR",
                     text=f"{progress.stage} {fraction:.0%}: {progress.message}"[:80])
    if state is State.ERROR and session.error:
        for line in session.error.splitlines()[:3]:
            box.label(text=line[:100], icon="ERROR")
    for message in list(session.messages)[-4:]:
        box.label(text=message[:100])



def help_button(layout: bpy.types.UILayout, place: str, text: str = "") -> None:
    """Help for ``place`` (a panel's bl_idname): its page of the guide the add-on carries."""
    layout.operator("img23d.open_guide", text=text, icon="HELP").place = place


class _Subpanel:
    """What every panel under img23d's main panel shares: its place in the sidebar and a Help button
    in its header for its own page of the guide."""

    bl_parent_id = "IMG23D_PT_main"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"

    def draw_header_preset(self, context: bpy.types.Context) -> None:
        help_button(self.layout, self.bl_idname)


class IMG23D_PT_placement(_Subpanel, bpy.types.Panel):
    """Where the objects stand: the camera's field of view, the floor, and laying a run out again."""

    bl_idname = "IMG23D_PT_placement"
    bl_label = "Placement"

    def draw(self, context: bpy.types.Context) -> None:
        settings = context.scene.img23d
        layout = self.layout
        row = layout.row(align=True)
        row.prop(settings, "fov")
        row.prop(settings, "estimate_fov", text="", icon="CAMERA_DATA")
        layout.prop(settings, "ground")
        row = layout.row()
        active = context.active_object
        row.enabled = active is not None and bool(active.get("img23d_run"))
        row.operator("img23d.relayout", icon="FILE_REFRESH")


class IMG23D_PT_finish(_Subpanel, bpy.types.Panel):
    """The finished mesh's topology (as generated, triangles or quads) and its bake, with presets."""

    bl_idname = "IMG23D_PT_finish"
    bl_label = "Finish"

    def draw(self, context: bpy.types.Context) -> None:
        draw_finish(self.layout, context.scene.img23d)


def draw_finish(layout: bpy.types.UILayout, settings: bpy.types.PropertyGroup) -> None:
    """Topology, then what a remade mesh needs (greyed while the mesh stays as generated)."""
    layout.prop(settings, "topology", expand=True)
    remade = layout.column(align=True)
    remade.enabled = settings.topology != "as-generated"
    remade.prop(settings, "finish_preset", expand=True)
    face_target, bake_size = settings.finish_values()
    remade.prop(settings, "face_target", text="Face Target (0 = preset)")
    remade.prop(settings, "bake_size")
    remade.label(text=f"{face_target:,} {'quads' if settings.topology == 'quads' else 'faces'}, "
                      f"{bake_size} px colour and normal maps")


class IMG23D_PT_advanced(_Subpanel, bpy.types.Panel):
    bl_idname = "IMG23D_PT_advanced"
    bl_label = "Advanced"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context: bpy.types.Context) -> None:
        settings = context.scene.img23d
        layout = self.layout
        layout.label(text="0 = from the quality preset")
        layout.prop(settings, "steps", text="Steps (0 = the model's)")
        layout.prop(settings, "octree_resolution")
        faces = layout.row(align=True)
        budget = faces.row(align=True)
        budget.enabled = not settings.keep_all_faces
        budget.prop(settings, "face_budget")
        faces.prop(settings, "keep_all_faces", text="", icon="MESH_DATA")
        layout.prop(settings, "texture_size")
        layout.prop(settings, "paint_steps")
        layout.prop(settings, "delight_steps")
        layout.separator()
        layout.label(text="Finished mesh")
        layout.prop(settings, "smoothing")
        layout.prop(settings, "fill_holes")
        layout.prop(settings, "min_piece")


class IMG23D_PT_boxes(_Subpanel, bpy.types.Panel):
    """Each name's box: Detect fills them; an edited box is used by Generate instead of looking. And each
    name's views: more pictures of it from its left, back and right (object_views)."""

    bl_idname = "IMG23D_PT_boxes"
    bl_label = "Boxes and Views"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context: bpy.types.Context) -> None:
        settings = context.scene.img23d
        layout = self.layout
        if not settings.boxes:
            layout.label(text="Detect fills a box per name to correct")
        else:
            layout.label(text="Pixels of the picture; a ticked box is used, not looked for")
        completing = settings.complete_hidden != "never"
        boxes = {box.name.casefold(): box for box in settings.boxes}
        for name in views.panel_names(settings):
            box = boxes.get(name.casefold())
            column = layout.box().column(align=True)
            if box is None:
                column.label(text=name)
            else:
                row = column.row(align=True)
                row.prop(box, "use", text="")
                row.label(text=box.name if box.found or box.use else f"{box.name} (not found: draw it)")
                if completing:  # Complete Hidden may complete this name; off keeps it as the picture shows it
                    row.prop(box, "complete", text="Complete", toggle=True)
                numbers = column.row(align=True)
                for corner in ("x0", "y0", "x1", "y1"):
                    numbers.prop(box, corner, text="")
            views.draw_views(column, settings.views, name)
        views.draw_clean_family_note(layout, context, settings.views)
        if settings.boxes:
            layout.operator("img23d.boxes_clear", icon="X")


class IMG23D_PT_retexture(_Subpanel, bpy.types.Panel):
    """Re-texture's pictures of the selected mesh besides the front (the picture above)."""

    bl_idname = "IMG23D_PT_retexture"
    bl_label = "Re-texture Views"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        layout.label(text="The picture above is the front (seen from -Y)")
        views.draw_views(layout, context.scene.img23d.retexture_views, "", retexture=True)


classes = (IMG23D_PT_main, IMG23D_PT_placement, IMG23D_PT_finish, IMG23D_PT_advanced, IMG23D_PT_boxes,
           IMG23D_PT_retexture)
