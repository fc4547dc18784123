"""(1.18) What the slow optional steps will cost on the backend's device, said before a job starts.

Completing hidden objects (an image editor) and the material step (Marigold) take seconds on a
large GPU and up to hours on a CPU. The backend measures its device's speed once (a short matrix
product in the dtype its models run in) and sends in its hello what one object costs there
(``StepCosts``): completion as a function of the area a crop is edited at, the material step per
painted object. ``job_cost`` multiplies them by a job's objects, with the same arithmetic on both
sides of the wire: the add-on shows the estimate beside its toggles and asks before a long Generate;
the backend refuses a long job whose options do not say the artist accepted it (``accept_long``),
with the one sentence ``long_job_refusal`` words. How the seconds are derived, and how far off they
may be, is the backend's ``models/step_costs.py``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from .plain import finite_number

# A job whose slow optional steps may take this long or longer says so and asks first.
LONG_JOB_SECONDS = 3600.0
# How the command line and the add-on accept a long job.
ACCEPT_LONG_FLAG = "--accept-long"
ACCEPT_LONG_CHECKBOX = "Accept Long Job"
# The progress stage of a line that says what a job (or one long step of it) is expected to take, before it
# starts: a sentence to keep in view, not a step of the work (the command line prints it whole, on a line of its
# own above its progress bar, which overwrote and cut it at 110 characters within milliseconds).
ESTIMATE_STAGE = "estimate"


@dataclass(frozen=True)
class StepCosts:
    """One object's seconds for each slow optional step on the backend's device (the hello's ``costs``).

    Completion of one object edited at ``m`` megapixels takes ``completion_fixed_s + completion_per_mp_s
    * m + completion_per_mp2_s * m^2`` (the editor's attention grows with the square of its tokens);
    ``edit_pixels`` is the editor's own area (``edit_size`` 0), ``edit_pixels_most`` the most it edits at
    whatever it is asked (FLUX.2 [klein]: 1024 x 1024's; 0: any area). A zero ``edit_pixels`` or
    ``materials_s``: the backend has no such model, or could not estimate it."""

    device: str = ""              # what the figures are for, as a sentence names it: "this CPU (AMD EPYC)"
    on_cpu: bool = False          # the device is a CPU: where the material step is worth pointing out
    edit_pixels: int = 0          # pixels: the editor's own area
    edit_pixels_most: int = 0     # pixels: the most it edits at, whatever it is asked (0: any)
    completion_fixed_s: float = 0.0      # seconds an object, whatever its area
    completion_per_mp_s: float = 0.0     # seconds a megapixel
    completion_per_mp2_s: float = 0.0    # seconds a megapixel squared (attention over the tokens)
    materials_s: float = 0.0             # seconds an object in the material step

    def completion_seconds(self, edit_size: int = 0) -> float:
        """One object's completion at ``edit_size`` (the side of the square whose area a crop is edited
        at; 0: the editor's own area)."""
        if not self.edit_pixels:
            return 0.0
        asked = edit_size * edit_size if edit_size else self.edit_pixels
        # An --edit-size past the most the editor edits at was costed at an area it never paints (6 times klein's).
        megapixels = (min(asked, self.edit_pixels_most) if self.edit_pixels_most else asked) / 1e6
        return (self.completion_fixed_s + self.completion_per_mp_s * megapixels
                + self.completion_per_mp2_s * megapixels * megapixels)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> "StepCosts | None":
        """The costs a hello carried; None for anything that is not such an object (data from another
        process, or an older backend's hello without them)."""
        if not isinstance(data, dict) or not data:
            return None
        values: dict[str, Any] = {}
        for item in fields(cls):
            value = data.get(item.name, getattr(cls(), item.name))
            if item.name == "device":
                if not isinstance(value, str):
                    return None
            elif item.name == "on_cpu":
                if not isinstance(value, bool):
                    return None
            elif not finite_number(value) or value < 0:
                return None
            values[item.name] = int(value) if item.name in ("edit_pixels", "edit_pixels_most") else value
        return cls(**values)


@dataclass(frozen=True)
class JobCost:
    """A job's estimated seconds in its slow optional steps, and for how many objects."""

    device: str
    completion_s: float = 0.0
    completion_objects: int = 0
    materials_s: float = 0.0
    materials_objects: int = 0
    completion_up_to: bool = False  # "auto" completes only the objects it finds hidden: at most this

    @property
    def total_s(self) -> float:
        return self.completion_s + self.materials_s

    @property
    def long(self) -> bool:
        """Whether the job asks before it starts (``LONG_JOB_SECONDS`` or more)."""
        return self.total_s >= LONG_JOB_SECONDS

    def summary(self) -> str:
        """What it costs, in words: "completing hidden objects up to about 2.1 h (4 objects at about
        32 min each) and the material step about 1.1 h (4 objects at about 16 min each) on this CPU (...)"."""
        parts = []
        if self.completion_objects and self.completion_s:
            each = self.completion_s / self.completion_objects
            parts.append(f"completing hidden objects {'up to ' if self.completion_up_to else ''}"
                         f"{duration(self.completion_s)}{_each(self.completion_objects, each)}")
        if self.materials_objects and self.materials_s:
            each = self.materials_s / self.materials_objects
            parts.append(f"the material step {duration(self.materials_s)}{_each(self.materials_objects, each)}")
        return " and ".join(parts) + (f" on {self.device}" if self.device else "")


def job_cost(costs: StepCosts | None, objects: int, completion: bool, materials: bool, edit_size: int = 0,
             variations: int = 1, up_to: bool = False) -> JobCost | None:
    """What a job's slow optional steps cost: ``completion`` and ``materials`` say which steps it runs,
    ``objects`` how many objects (names; one for the whole picture or a mesh) each runs on; each name's
    candidates (``variations``) are painted each, and share one completion. None without costs (an
    older backend)."""
    if costs is None:
        return None
    objects = max(1, objects)
    completing = objects if completion and costs.edit_pixels else 0
    painting = objects * max(1, variations) if materials and costs.materials_s else 0
    return JobCost(device=costs.device, completion_s=completing * costs.completion_seconds(edit_size),
                   completion_objects=completing, materials_s=painting * costs.materials_s,
                   materials_objects=painting, completion_up_to=up_to and completing > 0)


def long_job_refusal(cost: JobCost) -> str:
    """The one sentence a long job that was not accepted is refused with: the estimate, and how to accept."""
    return (f"this job would take hours: {cost.summary()}: tick {ACCEPT_LONG_CHECKBOX} in the add-on or pass "
            f"{ACCEPT_LONG_FLAG} on the command line to start it anyway, or turn completion or materials off")


def duration(seconds: float) -> str:
    """Seconds as a person reads an estimate: "about 40 s", "about 12 min", "about 2.1 h"."""
    if seconds < 90:
        return f"about {max(1, round(seconds))} s"
    if seconds < 5400:
        return f"about {round(seconds / 60)} min"
    return f"about {seconds / 3600:.1f} h"


def _each(objects: int, each: float) -> str:
    return f" ({objects} objects at {duration(each)} each)" if objects > 1 else ""
