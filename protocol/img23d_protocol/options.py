"""A job's options: one table of ranges that the command line, the protocol and the add-on check."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field, fields, replace
from typing import Any

from . import completion
from .errors import ErrorCode, ProtocolError
from .limits import MAX_PICTURES, MAX_TRIANGLES

KEEP_CHOICES = ("largest", "all")
# How the shape model's volume is decoded: FlashVDM refines only near the surface (fast, the
# default); dense queries every point of the grid (hy3dgen's own decoder, slower).
VOLUME_DECODERS = ("flashvdm", "dense")
# (1.13) The finished object's topology (backend finish/): as the generator made it, triangles at a
# face target (quadric decimation), or quads at a face target (Instant Meshes), with the look baked.
TOPOLOGY_CHOICES = ("as-generated", "triangles", "quads")
# Step1X-3D's Label model (shape_models: a kind with ``labels``) takes a label with the picture:
# symmetry ("x": mirror-symmetric about the x axis; "none": asymmetric) and edge sharpness, as its
# label encoder's tables name them. "auto" gives no choice: the model's default rows, which are
# upstream's asymmetry and normal rows (so "auto" equals "none" and "normal").
SYMMETRY_CHOICES = ("auto", "x", "none")
SHARPNESS_CHOICES = ("auto", "normal", "smooth", "sharp")
# The largest texture that holds detail: the paint model paints 512-pixel views, baked from
# 2048 renders; a bigger texture is the same picture upscaled (renders and presets stay within it).
DETAILED_TEXTURE_SIZE = 2048

# (1.17) Completing hidden targets (completion.py holds the choices and the record of it).
COMPLETE_HIDDEN_CHOICES = completion.COMPLETE_HIDDEN_CHOICES

# The models' memory budget (GB) a user may set; None (or 0 in the add-on) = free memory minus 1 GB.
BUDGET_GB_MIN, BUDGET_GB_MAX = 0.25, 1024.0


@dataclass(frozen=True)
class Allowed:
    """What one option may be: a range, optionally a power of two, or zero for "automatic"."""

    low: float
    high: float
    zero_means: str = ""         # e.g. "all at once": 0 is allowed besides the range
    power_of_two: bool = False

    def admits(self, value: Any) -> bool:
        if isinstance(value, float) and not math.isfinite(value):
            return False
        if self.zero_means and value == 0:
            return True
        if not self.low <= value <= self.high:
            return False
        return not self.power_of_two or (int(value) == value and int(value) & (int(value) - 1) == 0)

    def describe(self) -> str:
        low, high = _number(self.low), _number(self.high)
        if self.zero_means and self.low == 0:  # 0 is in the range, yet means something else: said so
            return f"0 ({self.zero_means}) or more, up to {high}"
        text = f"a power of two from {low} to {high}" if self.power_of_two else f"{low} to {high}"
        return f"0 ({self.zero_means}) or {text}" if self.zero_means else text


def _number(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) and not value.is_integer() else f"{int(value):,}"


# The one table of option ranges: the protocol, the command line and the add-on all check these.
OPTION_RANGES: dict[str, Allowed] = {
    "seed": Allowed(0, 2**63 - 1),
    "steps": Allowed(1, 200, zero_means="the shape model's own"),
    "octree_resolution": Allowed(16, 1024, zero_means="the shape model's own"),
    "guidance_scale": Allowed(0.0, 50.0, zero_means="the shape model's own"),
    "face_budget": Allowed(100, MAX_TRIANGLES, zero_means="keep every face"),
    "smoothing": Allowed(0, 100),
    "fill_holes": Allowed(1, 1_000_000, zero_means="leave holes open"),
    "min_piece": Allowed(0.0, 1.0),
    "margin": Allowed(0.0, 2.0),
    "min_crop": Allowed(8, 4096),
    "shape_batch": Allowed(1, 64, zero_means="all at once"),
    "variations": Allowed(1, MAX_PICTURES),
    "texture_size": Allowed(64, 8192, power_of_two=True),
    "render_size": Allowed(64, 4096, zero_means="the texture's size"),
    "delight_steps": Allowed(1, 200),
    "paint_steps": Allowed(1, 200, zero_means="the paint model's own"),
    "fov_degrees": Allowed(5.0, 170.0),
    "face_target": Allowed(100, 1_000_000),
    "bake_size": Allowed(128, 8192, power_of_two=True),
    "edit_size": Allowed(256, 2048, zero_means="the image editor's own"),
}


class OptionError(ProtocolError):
    """A ``bad_request`` about one option, naming it, what is wrong with it (``problem``) and what it may be."""

    def __init__(self, option: str, value: Any, allowed: str, problem: str = "is out of range") -> None:
        super().__init__(ErrorCode.BAD_REQUEST, f"option {option}={value!r} {problem}: it must be {allowed}")
        self.option, self.value, self.allowed, self.problem = option, value, allowed, problem


def whole_number_error(option: str, value: Any) -> OptionError:
    """The sentence for a whole-number option given something else (a fraction, a bool, a text): the wire's
    decoding and ``JobOptions.validate`` (the Python API's options, which arrive unread) say the same."""
    allowed = OPTION_RANGES.get(option)
    return OptionError(option, value, f"a whole number, {allowed.describe()}" if allowed else "a whole number",
                       "is not a whole number")


def is_whole_number(value: Any) -> bool:
    """Whether ``value`` is an int as a whole-number option takes it (a bool is not, though Python counts it one)."""
    return isinstance(value, int) and not isinstance(value, bool)


def seed_at(seed: int, offset: int) -> int:
    """The ``offset``-th seed after ``seed`` (a variation's, a candidate's), within the range a seed is given in,
    past its top from 0 again: the second picture from the top seed was reported as one past it, which the seed's
    own check then refused, so it could not be made again."""
    allowed = OPTION_RANGES["seed"]
    return int(allowed.low + (seed + offset - allowed.low) % (int(allowed.high) - allowed.low + 1))


def check_budget_gb(value: float | None) -> float | None:
    """The models' memory budget in GB, checked; None means "free memory minus 1 GB"."""
    if value is None:
        return None
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not (number and math.isfinite(value) and BUDGET_GB_MIN <= value <= BUDGET_GB_MAX):
        raise OptionError("budget_gb", value, f"{BUDGET_GB_MIN:g} to {BUDGET_GB_MAX:g} (GB)")
    return float(value)


@dataclass
class JobOptions:
    """Per-job settings. Defaults suit a real GPU run; presets in the add-on adjust them."""

    seed: int = 0
    steps: int = 0                 # 0: the shape model's own (shape_models.SHAPE_MODELS: 5 turbo, 30 others)
    octree_resolution: int = 0     # 0: the shape model's own (shape_models: 256 Hunyuan3D-2, 384 Step1X-3D)
    volume_decoder: str = "flashvdm"
    guidance_scale: float = 0.0    # 0: the shape model's own (shape_models: 5.0 Hunyuan3D-2, 7.5 Step1X-3D)
    # The finished mesh (mesh/cleanup.py): the defaults are what every job did before they were options.
    face_budget: int = 40_000      # faces after clean-up; 0 = keep every face
    smoothing: int = 0             # Taubin smoothing passes (volume-preserving); 0 = none
    fill_holes: int = 0            # close holes of up to this many boundary edges; 0 = leave them open
    # Separate pieces with fewer faces than this fraction of the largest piece's are removed as
    # extraction noise (0.5% is hy3dgen's own floater removal); 0 = keep every piece.
    min_piece: float = 0.005
    random_seed: bool = False      # a new seed for this job, drawn by the backend and recorded
    keep: str = "largest"          # several instances of one name: the largest, or all
    # Candidates of each name (instance) to choose from, each from its own seed, sharing one
    # grounding, matting and depth pass: 1 = one object per name, as without variations.
    variations: int = 1
    margin: float = 0.1            # crop margin, as a fraction of the box's longer side
    min_crop: int = 64             # crops are grown to at least this many pixels a side
    shape_batch: int = 0           # images per DiT batch; 0 = all of the job's at once
    texture: bool = True           # paint a texture (False: the untextured mesh only)
    texture_size: int = 2048       # the baked texture's side in pixels
    render_size: int = 0           # side of the views baked from; 0 = see bake_render_size()
    delight_steps: int = 50
    paint_steps: int = 0           # 0: the paint model's own (paint_models: 10 turbo, 30 2.0, 50 clean)
    # (1.13) The clean paint model's views synchronised through the mesh's latent texture in the first
    # half of the steps, as upstream runs it; False samples each view on its own. Other paint models ignore it.
    texture_sync: bool = True
    # (1.15) Roughness and metallic maps for each painted object (Marigold-IID-Appearance, baked like the
    # colour into glTF's metallicRoughness texture); only where texture is on.
    materials: bool = True
    # Where the objects stand (see layout.py): the camera's field of view across the picture's
    # longer side, unless the depth model estimates one and estimate_fov is on; ground: objects
    # whose bottoms lie on one floor stand on one plane.
    fov_degrees: float = 55.0
    estimate_fov: bool = True
    ground: bool = True
    # (1.10) Keys of the restricted licences the artist accepted (licences.py): a model under one of
    # them that is not downloaded yet may be downloaded by this job; any other restricted one is refused.
    accepted_licences: list[str] = field(default_factory=list)
    # The Label model's controls (SYMMETRY_CHOICES, SHARPNESS_CHOICES); any other shape model refuses
    # a value other than "auto".
    symmetry: str = "auto"
    sharpness: str = "auto"
    # (1.13) Game-ready finishing (backend finish/): "as-generated" keeps the generator's mesh; "triangles"
    # or "quads" remake it at ``face_target`` faces (a quad counts as one) and bake its colour and a
    # tangent-space normal map from the generated mesh onto it at ``bake_size`` pixels.
    topology: str = "as-generated"
    face_target: int = 5000
    bake_size: int = 1024
    # (1.17) Completing hidden targets before shape (completion.py): "auto" completes the targets that look
    # hidden (a box overlapping another's, a matte running into its box's edge), "always" every one.
    complete_hidden: str = "never"
    # (1.17) The side of the square whose area a crop is edited at (the editor keeps the crop's aspect);
    # 0: the editor's own (1024 x 1024). Smaller fits a smaller card, as its preflight's sentence says.
    edit_size: int = 0
    # (1.18) The artist accepted that the job's slow optional steps may take hours on the backend's
    # device (costs.py): without it such a job is refused with long_job_not_accepted before it starts.
    accept_long: bool = False
    # (1.20) Each object also as 3D Gaussian splats (splats.py), ``<stem>.splat.ply`` beside its GLB.
    splats: bool = False

    @property
    def labelled(self) -> bool:
        """Whether the job asks for a label (a symmetry or sharpness other than "auto")."""
        return self.symmetry != "auto" or self.sharpness != "auto"

    def bake_render_size(self) -> int:
        """The side of the renders the texture is baked from: ``render_size`` when set, else the
        texture's size up to ``DETAILED_TEXTURE_SIZE``. A texture bigger than this is upscaled."""
        return self.render_size or min(self.texture_size, DETAILED_TEXTURE_SIZE)

    def validate(self) -> None:
        """Raise ``OptionError`` (a ``bad_request``) naming the first option out of range, and its range."""
        if self.keep not in KEEP_CHOICES:
            raise OptionError("keep", self.keep, " or ".join(repr(c) for c in KEEP_CHOICES))
        if self.volume_decoder not in VOLUME_DECODERS:
            raise OptionError("volume_decoder", self.volume_decoder, " or ".join(repr(c) for c in VOLUME_DECODERS))
        if self.symmetry not in SYMMETRY_CHOICES:
            raise OptionError("symmetry", self.symmetry, " or ".join(repr(c) for c in SYMMETRY_CHOICES))
        if self.sharpness not in SHARPNESS_CHOICES:
            raise OptionError("sharpness", self.sharpness, " or ".join(repr(c) for c in SHARPNESS_CHOICES))
        if self.topology not in TOPOLOGY_CHOICES:
            raise OptionError("topology", self.topology, " or ".join(repr(c) for c in TOPOLOGY_CHOICES))
        if self.complete_hidden not in COMPLETE_HIDDEN_CHOICES:
            raise OptionError("complete_hidden", self.complete_hidden,
                              " or ".join(repr(c) for c in COMPLETE_HIDDEN_CHOICES))
        if not all(isinstance(key, str) for key in self.accepted_licences):
            raise OptionError("accepted_licences", self.accepted_licences, "a list of licence keys (strings)")
        whole = {f.name for f in fields(self) if f.type in ("int", int)}
        for name, allowed in OPTION_RANGES.items():
            value = getattr(self, name)
            # A fraction for a whole number (variations=2.5, steps=2.5, seed=0.5 from the Python API) ran until a
            # model took it (a TypeError's traceback), or ran as its whole part while the manifest kept the fraction.
            if name in whole and not is_whole_number(value):
                raise whole_number_error(name, value)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not allowed.admits(value):
                raise OptionError(name, value, allowed.describe())

    @classmethod
    def from_dict(cls, data: Any) -> "JobOptions":
        if data is None:
            return cls()
        if not isinstance(data, dict):
            raise ProtocolError(ErrorCode.BAD_REQUEST, "options must be an object")
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"unknown option(s): {', '.join(unknown)}")
        values = {}
        for name, value in data.items():
            values[name] = _coerce(name, value, type(getattr(cls(), name)))
        options = cls(**values)
        options.validate()
        return options


def over_limits(options: JobOptions, limits: Any, shapes: bool = True) -> list[tuple[str, int, int]]:
    """(option, value, limit) for each setting above what a backend said it can hold.

    ``limits`` comes from the backend's hello; a setting that is not used is not held against
    it: the texture of an untextured job, the octree resolution of a re-texture (``shapes``
    False: it paints the artist's mesh, it makes none)."""
    if not isinstance(limits, dict):
        return []
    unused = ({"texture_size"} if not options.texture else set()) | ({"octree_resolution"} if not shapes else set())
    over = []
    for name, limit in limits.items():
        if name in unused:
            continue
        value = getattr(options, name, None) if name in OPTION_RANGES else None
        if isinstance(value, int) and isinstance(limit, int) and not isinstance(limit, bool) and value > limit:
            over.append((name, value, limit))
    return over


def plain_number(value: Any) -> Any:
    """A number of numpy's as Python's (``np.int64`` an int, ``np.float32`` a float), as the wire's are; anything
    else as it is. The Python API's values meet the wire's checks, which took numpy's for no number."""
    if isinstance(value, (bool, int, float)) or not isinstance(value, numbers.Real):
        return value
    return int(value) if isinstance(value, numbers.Integral) else float(value)


def plain_numbers(options: JobOptions) -> JobOptions:
    """``options`` with numpy's numbers (a seed from ``rng.integers``, a ``np.float32``) as Python's, as the
    wire's are: the range check took them for no number, and said a seed inside the range was out of it."""
    return replace(options, **{f.name: plain_number(getattr(options, f.name)) for f in fields(options)})


def _coerce(name: str, value: Any, kind: type) -> Any:
    # bool is an int subclass in Python: reject True where a number is meant and vice versa.
    if kind is bool:
        if isinstance(value, bool):
            return value
    elif kind is int:
        if is_whole_number(value):
            return value
        raise whole_number_error(name, value)
    elif kind is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif isinstance(value, kind):
        return value
    raise ProtocolError(ErrorCode.BAD_REQUEST, f"option {name} must be {kind.__name__}, got {value!r}")
