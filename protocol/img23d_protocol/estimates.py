"""(1.29) A Generate's whole estimate, asked of the backend before it is sent (``EstimateRequest``).

The backend weighs a Generate by every stage it will run before it makes the run folder (the picture from a prompt,
grounding, matting, completion, depth, shape, clean-up, paint, materials, the finish, the names made in parts, the
models' moves under a memory cap, the GLBs' writing) and refuses one of an hour or more that its options do not
accept. Those seconds depend on most of the job's options, the names, the models the backend runs and which of them
sit on its device at the time: a hello, sent once, cannot carry them (the hello's ``costs`` cover completion and the
material step alone, and the add-on's long-job check that read them let through jobs the backend then refused, and
said nothing of the rest). So the add-on asks: an ``EstimateRequest`` carries what a generate request carries (the
picture is not read: only whether one is made from a prompt counts) and is answered at once by a ``result`` whose
data is a ``JobEstimate``, computed by the very function the Generate itself is weighed by. The panel shows it, and
Generate refuses a long job before sending it in the backend's own sentence (``JobEstimate.refusal``): the two
cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar

from .costs import ACCEPT_LONG_CHECKBOX, ACCEPT_LONG_FLAG, LONG_JOB_SECONDS, duration
from .messages import GenerateRequest
from .plain import finite_number
from .result_fields import MAX_TEXT, refuse, text, whole

MAX_STAGES = 64  # a Generate runs about a dozen; an answer with more is not an estimate


@dataclass
class EstimateRequest(GenerateRequest):
    """What a Generate of these fields would take on the backend (its ``JobEstimate``); nothing is run or written."""

    TYPE: ClassVar[str] = "estimate"

    @classmethod
    def of(cls, request: GenerateRequest) -> "EstimateRequest":
        """The estimate request of a Generate: every field of ``request`` but its id (the session gives one)."""
        return cls(**{item.name: getattr(request, item.name) for item in fields(GenerateRequest) if item.name != "id"})


@dataclass(frozen=True)
class StageTime:
    stage: str
    seconds: float


@dataclass(frozen=True)
class JobEstimate:
    """A job's stages, each with its expected seconds, on ``device`` (as a sentence names it)."""

    device: str
    stages: tuple[StageTime, ...]

    @property
    def total_s(self) -> float:
        return sum(stage.seconds for stage in self.stages)

    @property
    def long(self) -> bool:
        """Whether the job asks before it starts (``LONG_JOB_SECONDS`` or more)."""
        return self.total_s >= LONG_JOB_SECONDS

    def sentence(self) -> str:
        """"about 4 min on this CPU (AMD EPYC): the picture about 8 s, grounding about 2 s, ..., export about 5 s"."""
        each = ", ".join(f"{stage.stage} {duration(stage.seconds)}" for stage in self.stages)
        return f"{duration(self.total_s)} on {self.device}: {each}"

    def refusal(self) -> str:
        """The one sentence a long job that was not accepted is refused with, by the backend and by the add-on."""
        return (f"this job would take hours: {self.sentence()}: tick {ACCEPT_LONG_CHECKBOX} in the add-on or pass "
                f"{ACCEPT_LONG_FLAG} on the command line to start it anyway, or make it lighter (fewer names or "
                f"variations, a smaller texture, completion or materials off)")

    def to_dict(self) -> dict[str, Any]:
        return {"device": self.device, "stages": [[stage.stage, stage.seconds] for stage in self.stages],
                "total_s": self.total_s, "long": self.long}

    @classmethod
    def from_dict(cls, data: Any) -> "JobEstimate":
        """An estimate another process sent, checked: one sentence (``bad_request``) for anything else. The total and
        the long flag are computed again here, not taken from the wire."""
        where = "an estimate"
        data = whole(where, data)
        device = text(data, where, "device")
        stages = data.get("stages")
        if not isinstance(stages, list) or not 0 < len(stages) <= MAX_STAGES:
            raise refuse(where, "stages", f"is not a list of 1 to {MAX_STAGES} stages")
        read = []
        for stage in stages:
            if not (isinstance(stage, list) and len(stage) == 2 and isinstance(stage[0], str)
                    and 0 < len(stage[0]) <= MAX_TEXT and finite_number(stage[1]) and stage[1] >= 0):
                raise refuse(where, "stages", "is not a list of [stage, seconds] pairs (seconds finite, 0 or more)")
            read.append(StageTime(stage[0], float(stage[1])))
        return cls(device=device, stages=tuple(read))
