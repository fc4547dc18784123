"""Make Picture (protocol 1.25's ``picture`` request, issue 76): the picture a prompt describes, alone, in a run
folder of its own, before any 3D, so the artist can make another (another seed, other words) until it shows
what they want, then generate from it as from any picture.

The picture is made as a Generate from a prompt makes it (``prompt_picture.make_input``: the image editor's
phases through the model manager, a square of the job's ``edit_size`` from its seed, kept as the run's
``input.png`` with the prompt in the manifest, announced as a ``picture`` artifact, its expected time said
first); the same prompt and options make the same picture either way. Before the run folder: the prompt and
the side are checked, an editor that makes no pictures is refused, the picture's memory is weighed, and a
picture that would take an hour or more here starts only when the request accepts it (``accept_long``).
With ``variations`` N it makes N pictures, one a seed from the job's on (``input.png``, ``input-v2.png``, ...),
in one pass of the editor, for the artist to pick one; the time said and weighed is N pictures'.
"""

from __future__ import annotations

from img23d_protocol import PictureJobResult, PictureRequest, check_picture_prompt, name_from_prompt

from ...editors.text_prompt import check_side
from ...runs.stems import safe_stem
from . import prompt_picture
from ..base import JobRun
from ..context import EngineContext

KIND = "picture"


class PictureRun(JobRun[PictureRequest]):
    """A ``picture`` request under the engine: the picture made and kept in a run folder of the engine's, its
    progress and cancel as every job's."""

    kind = KIND

    @classmethod
    def check_request(cls, request: PictureRequest) -> None:
        check_picture_prompt(request.prompt)  # a request made in this process skips the wire's check
        check_side(request.options.edit_size)

    @classmethod
    def check_models(cls, request: PictureRequest, engine: EngineContext) -> None:
        prompt_picture.check_model(request, engine)

    @classmethod
    def check_memory(cls, request: PictureRequest, engine: EngineContext) -> None:
        prompt_picture.check_memory(request, engine)  # its memory and its time

    @classmethod
    def refuse_long(cls, request: PictureRequest, engine: EngineContext) -> None:
        """Its time was weighed with its memory (``check_memory``: the pictures' estimate its line says); a
        completion the panel's options name is none of its work."""

    @classmethod
    def roles_used(cls, request: PictureRequest) -> tuple[str, ...]:
        return (prompt_picture.ROLE,)

    @classmethod
    def folder_label(cls, request: PictureRequest) -> str:
        return f"{safe_stem(name_from_prompt(request.prompt))}-picture"

    def body(self) -> PictureJobResult:
        kept = prompt_picture.make_inputs(self, prompt_picture.pictures_asked(self.request))
        folder = self.run_folder
        pictures = [str(picture.path) for picture in kept]
        return PictureJobResult(run_dir=str(folder.root), manifest=str(folder.path("manifest.json")),
                                picture=pictures[0], image_size=list(kept[0].image.size), seed=kept[0].seed,
                                timings=dict(folder.manifest.timings), pictures=pictures,
                                seeds=[picture.seed for picture in kept])


__all__ = ["PictureRun"]
