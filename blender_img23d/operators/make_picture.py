"""``img23d.make_picture``: the picture the panel's Prompt describes, alone (no names, no meshes), loaded as an
image and picked in the panel, so the artist sees it and can make another before any 3D (protocol 1.25)."""

from __future__ import annotations

import bpy
import img23d_protocol as protocol

from .. import made_pictures, runtime
from ..job_runner import JobRunner, Outcome
from . import _inputs
from ._job import JobOperatorMixin


class IMG23D_OT_make_picture(JobOperatorMixin, bpy.types.Operator):
    """Make the picture the Prompt describes (Seed and Edit Size give its seed and side) and pick it in the panel"""

    bl_idname = "img23d.make_picture"
    bl_label = "Make Picture"
    bl_options = {"REGISTER", "UNDO"}

    _asked = 1      # the pictures asked for: a result that lists more is refused
    _prompt = ""    # what they are made from: each image keeps it

    def make_runner(self, context: bpy.types.Context) -> JobRunner:
        text = _inputs.prompt(context)
        panel = _inputs.options(context)
        # The options a picture reads (its seed and side, the licences, a long job accepted), as Generate sends them;
        # Pictures (its own count, not Generate's Variations): that many pictures to pick from (1.26).
        options = protocol.JobOptions(seed=panel.seed, random_seed=panel.random_seed, edit_size=panel.edit_size,
                                      variations=context.scene.img23d.picture_variations,
                                      accept_long=panel.accept_long,
                                      accepted_licences=panel.accepted_licences)
        request = protocol.PictureRequest(prompt=text, options=options)
        self._asked, self._prompt = options.variations, text
        return JobRunner(runtime.session(), context.scene, request, _inputs.prompt_run_name(text))

    def finish(self, context: bpy.types.Context, outcome: Outcome) -> set[str]:
        result = outcome.result
        # Every picture made, the first picked (1.26: the result lists Make Picture's variations; a result read
        # from an older backend lists its one picture). A finished job's result is always a picture's here.
        made = result if outcome.ok and isinstance(result, protocol.PictureJobResult) else None
        try:  # the others loaded beside the first, for the artist to pick another in Image
            images = made_pictures.load_made(context.scene, list(made.pictures), list(made.seeds), self._asked,
                                             self._prompt, outcome.notes) if made is not None else []
        except made_pictures.TooMany as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        image, others = (images[0], images[1:]) if images else (None, [])
        for note in outcome.notes:
            self.report({"WARNING"}, note)
        if outcome.cancelled:
            self.report({"WARNING"}, "Cancelled")
        elif outcome.error:
            self.report({"ERROR"}, outcome.error)
        elif image is not None:
            seed = getattr(result, "seed", None)
            if isinstance(seed, int) and 0 <= seed < 2**31:
                context.scene.img23d.last_seed = seed
            loaded = [f"'{other.name}'" for other in others if other is not None]
            more = f"; {len(loaded)} more to pick from in Image: {', '.join(loaded)}" if loaded else ""
            self.report({"INFO"}, f"Picture '{image.name}' ({image.size[0]} x {image.size[1]}, seed {seed}) is "
                                  f"picked{more}: Generate makes its objects, or Make Picture makes another")
        return {"FINISHED"} if image is not None else {"CANCELLED"}


classes = (IMG23D_OT_make_picture,)
