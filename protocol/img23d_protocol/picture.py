"""(1.25) Make Picture: the picture alone, made from a prompt, before any 3D (``PictureRequest``), and what its
job answers (``PictureJobResult``; the picture is also announced as an artifact of kind ``picture``).

A picture costs seconds on a GPU where a whole Generate costs minutes: the artist makes one, looks at it, and
makes another (another seed, other words) until it shows what they want, then generates from it as from any
picture. The request carries the prompt (checked on arrival as a generate request's is, ``prompt.py``) and
the job's options, of which the picture reads the seed (``seed``, ``random_seed``) and its side
(``edit_size``: the square's side, 0 the image editor's own), as a generate request's picture from a prompt
does: the same prompt and options make the same picture either way. (1.26) ``variations`` N makes N pictures,
one a seed from the job's on, for the artist to pick one (the result's ``pictures`` and ``seeds``, each also a
``picture`` artifact); a Generate's variations stay candidates of each name from its one picture.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from .errors import ErrorCode, ProtocolError
from .messages import Request
from .options import JobOptions
from .result_fields import MAX_TEXT, items, mapping, number, numbers, refuse, text
from .prompt import validate_prompt
from .results import RunJobResult

NO_PROMPT = "no prompt given: type what the picture should show"


@dataclass
class PictureRequest(Request):
    """Make the picture a prompt describes, alone (no names, no meshes)."""

    TYPE: ClassVar[str] = "picture"
    prompt: str = ""
    options: JobOptions = field(default_factory=JobOptions)


def check_picture_prompt(prompt: str) -> str:
    """A picture request's prompt, checked as a generate request's (``validate_prompt``); none is refused in one
    sentence, since a picture request has nothing else to make the picture from."""
    prompt = validate_prompt(prompt)
    if not prompt:
        raise ProtocolError(ErrorCode.BAD_REQUEST, NO_PROMPT)
    return prompt


@dataclass(frozen=True)
class PictureJobResult(RunJobResult):
    """The made picture (``picture``: its path, in the run folder), its size, the seed it was made from, and
    the run's manifest, which keeps the prompt; (1.26) every picture made, the first being ``picture``, and each
    one's seed (``pictures``, ``seeds``: one each without variations; a result before 1.26 reads as its one)."""

    KIND: ClassVar[str] = "picture"
    manifest: str = ""
    picture: str = ""
    image_size: list[int] = field(default_factory=list)
    seed: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    pictures: list[str] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"run_dir": self.run_dir, "manifest": self.manifest, "picture": self.picture,
                "image_size": list(self.image_size), "seed": self.seed, "timings": dict(self.timings),
                "pictures": list(self.pictures), "seeds": list(self.seeds)}

    @staticmethod
    def read(data: dict[str, Any], what: str) -> dict[str, Any]:
        picture, seed = text(data, what, "picture"), number(data, what, "seed")
        # Absent (a result before 1.26, filled with the empty defaults) they read as the one picture and its seed.
        pictures = items(data, what, "pictures", []) or [picture]
        seeds = numbers(data, what, "seeds", []) or [seed]
        if not all(isinstance(path, str) and len(path) <= MAX_TEXT for path in pictures):
            raise refuse(what, "pictures", f"is not a list of paths of at most {MAX_TEXT} characters")
        if len(seeds) != len(pictures) or not all(isinstance(value, int) for value in seeds):
            raise refuse(what, "seeds", "is not one whole number for each of 'pictures'")
        return dict(run_dir=text(data, what, "run_dir"), manifest=text(data, what, "manifest"), picture=picture,
                    image_size=numbers(data, what, "image_size"), seed=seed, timings=mapping(data, what, "timings"),
                    pictures=list(pictures), seeds=list(seeds))
