"""The wire format between Blender and the backend: the only code both sides share.

One UTF-8 JSON object per line. Every message carries ``"v"`` (the protocol major version)
and ``"type"``. Requests (Blender -> backend) carry an ``id``; events (backend -> Blender)
name the request or job they belong to. Big data travels as file paths, never inline.

Standard library only: the Blender add-on imports this very file.
"""

from __future__ import annotations

import json
import math
import unicodedata
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from enum import Enum
from pathlib import PurePath
from typing import Any, ClassVar

PROTOCOL_MAJOR = 1
PROTOCOL_MINOR = 4  # 1: models, download, delete (the model manager); 2: retexture;
# 3: the environment error code, and the environment the backend's hello describes;
# 4: suggest, the layout options (fov_degrees, estimate_fov, ground) and the "layout" artifact
MAX_LINE_BYTES = 1 << 20  # a request line above 1 MiB is refused unread
MAX_TARGETS = 32
MAX_TARGET_CHARS = 200


class ErrorCode(str, Enum):
    """Machine-readable error codes; the message beside them is for people."""

    BAD_REQUEST = "bad_request"
    VERSION_MISMATCH = "version_mismatch"
    BUSY = "busy"
    IMAGE_UNREADABLE = "image_unreadable"
    TARGET_NOT_FOUND = "target_not_found"
    SHAPE_FAILED = "shape_failed"
    MODEL_MISSING = "model_missing"
    DOWNLOAD_FAILED = "download_failed"
    OUT_OF_MEMORY = "out_of_memory"
    DISK = "disk"
    # torch or torchvision cannot run what a model needs here (a probe failed): reinstall the backend.
    ENVIRONMENT = "environment"
    CANCELLED = "cancelled"
    INTERNAL = "internal"
    # Raised by the add-on's client, never sent by the backend: it cannot start, died, or hangs.
    BACKEND_UNAVAILABLE = "backend_unavailable"


class ProtocolError(Exception):
    """An error with a code, raised anywhere and sent as an ``error`` event at the boundary."""

    def __init__(self, code: ErrorCode, message: str, detail: str | None = None,
                 target: str | None = None) -> None:
        super().__init__(message)
        self.code = ErrorCode(code)
        self.message = message
        self.detail = detail
        self.target = target

    def __str__(self) -> str:
        return f"[{self.code.value}] {self.message}"


# --- plain JSON ---------------------------------------------------------------------------

def plain(value: Any) -> Any:
    """``value`` as plain JSON data: dicts with string keys, lists, str, int, float, bool, None.

    Whatever reaches a writer from numpy or torch (``numpy.bool_``, ``numpy.float32``, arrays,
    0-d tensors) is turned into its Python value through ``tolist()``, which both libraries
    give every scalar and array; NaN and infinities, which JSON cannot carry, become None.
    Standard library only, duck-typed: this module must not import numpy.
    """
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, int):
        return int(value)  # an IntEnum or another int subclass becomes a plain int
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, Enum):
        return plain(value.value)
    if isinstance(value, dict):
        return {str(plain(key)) if not isinstance(key, str) else key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(item) for item in value]
    if isinstance(value, PurePath):
        return str(value)
    if is_dataclass(value) and not isinstance(value, type):
        return plain(asdict(value))
    to_list = getattr(value, "tolist", None)  # numpy scalars and arrays, torch tensors
    if callable(to_list):
        return plain(to_list())
    raise TypeError(f"{type(value).__name__} is not JSON data")


def dumps(value: Any, *, indent: int | None = None) -> str:
    """JSON text of ``value`` after ``plain()``: the one encoder for every line and file."""
    separators = None if indent is not None else (",", ":")
    return json.dumps(plain(value), ensure_ascii=False, indent=indent, separators=separators, allow_nan=False)


# --- options --------------------------------------------------------------------------------

KEEP_CHOICES = ("largest", "all")
# The largest texture that holds detail: the paint model paints 512-pixel views, baked from
# 2048 renders; a bigger texture is the same picture upscaled (renders and presets stay within it).
DETAILED_TEXTURE_SIZE = 2048


@dataclass
class JobOptions:
    """Per-job settings. Defaults suit a real GPU run; presets in the add-on adjust them."""

    seed: int = 0
    steps: int = 30
    octree_resolution: int = 256
    guidance_scale: float = 5.0
    face_budget: int = 40_000
    keep: str = "largest"          # several instances of one name: the largest, or all
    margin: float = 0.1            # crop margin, as a fraction of the box's longer side
    min_crop: int = 64             # crops are grown to at least this many pixels a side
    shape_batch: int = 0           # images per DiT batch; 0 = all of the job's at once
    texture: bool = True           # paint a texture (False: the untextured mesh only)
    texture_size: int = 2048       # the baked texture's side in pixels
    render_size: int = 0           # side of the views baked from; 0 = see bake_render_size()
    delight_steps: int = 50
    paint_steps: int = 30
    # Where the objects stand (see layout.py): the camera's field of view across the picture's
    # longer side, unless the depth model estimates one and estimate_fov is on; ground: objects
    # whose bottoms lie on one floor stand on one plane.
    fov_degrees: float = 55.0
    estimate_fov: bool = True
    ground: bool = True

    def bake_render_size(self) -> int:
        """The side of the renders the texture is baked from: ``render_size`` when set, else the
        texture's size up to ``DETAILED_TEXTURE_SIZE``. A texture bigger than this is upscaled."""
        return self.render_size or min(self.texture_size, DETAILED_TEXTURE_SIZE)

    def validate(self) -> None:
        """Raise ``ProtocolError(bad_request)`` naming the first out-of-range option."""
        checks = [
            ("steps", 1 <= self.steps <= 200),
            ("octree_resolution", 16 <= self.octree_resolution <= 1024),
            ("guidance_scale", math.isfinite(self.guidance_scale) and 0 <= self.guidance_scale <= 50),
            ("face_budget", 100 <= self.face_budget <= 5_000_000),
            ("keep", self.keep in KEEP_CHOICES),
            ("margin", math.isfinite(self.margin) and 0 <= self.margin <= 2),
            ("min_crop", 8 <= self.min_crop <= 4096),
            ("shape_batch", 0 <= self.shape_batch <= 64),
            ("seed", 0 <= self.seed < 2**63),
            ("texture_size", 64 <= self.texture_size <= 8192),
            ("render_size", self.render_size == 0 or 64 <= self.render_size <= 4096),
            ("delight_steps", 1 <= self.delight_steps <= 200),
            ("paint_steps", 1 <= self.paint_steps <= 200),
            ("fov_degrees", math.isfinite(self.fov_degrees) and 5 <= self.fov_degrees <= 170),
        ]
        for name, ok in checks:
            if not ok:
                raise ProtocolError(ErrorCode.BAD_REQUEST,
                                    f"option {name}={getattr(self, name)!r} is out of range")

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


def _coerce(name: str, value: Any, kind: type) -> Any:
    # bool is an int subclass in Python: reject True where a number is meant and vice versa.
    if kind is bool:
        if isinstance(value, bool):
            return value
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif kind is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif isinstance(value, kind):
        return value
    raise ProtocolError(ErrorCode.BAD_REQUEST, f"option {name} must be {kind.__name__}, got {value!r}")


# --- target names ---------------------------------------------------------------------------

def split_names(text: str) -> list[str]:
    """Split the comma-separated names an artist typed; blank entries ("a,,b") are dropped."""
    return [part.strip() for part in text.split(",") if part.strip()]


def validate_targets(targets: Any) -> list[str]:
    """Check a request's target list; an empty list means "the whole image as one object"."""
    if not isinstance(targets, list):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "targets must be a list of names")
    if len(targets) > MAX_TARGETS:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"at most {MAX_TARGETS} names per job, got {len(targets)}")
    cleaned: list[str] = []
    seen: dict[str, str] = {}
    for index, name in enumerate(targets):
        if not isinstance(name, str):
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"name {index + 1} is not text")
        name = unicodedata.normalize("NFC", name).strip()
        if not name:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"name {index + 1} is empty")
        if len(name) > MAX_TARGET_CHARS:
            raise ProtocolError(ErrorCode.BAD_REQUEST,
                                f"name {index + 1} is {len(name)} characters; at most {MAX_TARGET_CHARS}")
        if any(unicodedata.category(ch) == "Cc" for ch in name):
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"name {index + 1} contains control characters")
        folded = name.casefold()
        if folded in seen:
            raise ProtocolError(ErrorCode.BAD_REQUEST,
                                f"name {name!r} is asked for twice; ask once (keep='all' gives every instance)")
        seen[folded] = name
        cleaned.append(name)
    return cleaned


# --- messages -------------------------------------------------------------------------------

@dataclass
class Message:
    """Base of every message; ``TYPE`` is the wire ``type``."""

    TYPE: ClassVar[str] = ""

    def to_dict(self) -> dict[str, Any]:
        data = {"v": PROTOCOL_MAJOR, "type": self.TYPE}
        data.update(asdict(self))
        return data

    def to_line(self) -> str:
        return dumps(self.to_dict())


# Requests ------------------------------------------------------------------------------------

@dataclass
class Hello(Message):
    """First line each way. The backend's carries what Blender shows in its status line."""

    TYPE: ClassVar[str] = "hello"
    role: str = "client"                 # "client" (Blender) or "backend"
    protocol: list[int] = field(default_factory=lambda: [PROTOCOL_MAJOR, PROTOCOL_MINOR])
    version: str = ""                    # the sender's software version
    device: str | None = None            # backend only: "cuda:0", "mps", "cpu"
    device_name: str | None = None
    memory: dict[str, int] = field(default_factory=dict)   # backend only: free/total bytes
    models: dict[str, str] = field(default_factory=dict)   # backend only: role -> model id
    environment: dict[str, Any] = field(default_factory=dict)  # backend only: torch/torchvision, probes


@dataclass
class GenerateRequest(Message):
    TYPE: ClassVar[str] = "generate"
    id: str = ""
    image: str = ""
    targets: list[str] = field(default_factory=list)
    options: JobOptions = field(default_factory=JobOptions)


@dataclass
class DetectRequest(Message):
    TYPE: ClassVar[str] = "detect"
    id: str = ""
    image: str = ""
    targets: list[str] = field(default_factory=list)
    options: JobOptions = field(default_factory=JobOptions)


@dataclass
class SuggestRequest(Message):
    """Ask the grounding model which distinct objects the picture shows: names and boxes back."""

    TYPE: ClassVar[str] = "suggest"
    id: str = ""
    image: str = ""
    options: JobOptions = field(default_factory=JobOptions)


@dataclass
class RetextureRequest(Message):
    """Paint an existing mesh (a file the add-on wrote: see ``stages/retexture.py``) from an image."""

    TYPE: ClassVar[str] = "retexture"
    id: str = ""
    image: str = ""
    mesh: str = ""
    name: str = "mesh"                   # the object's name, for file names and messages
    options: JobOptions = field(default_factory=JobOptions)


@dataclass
class CancelRequest(Message):
    TYPE: ClassVar[str] = "cancel"
    id: str = ""
    job: str | None = None               # the job to cancel; None = whatever is running


@dataclass
class StatusRequest(Message):
    TYPE: ClassVar[str] = "status"
    id: str = ""


@dataclass
class ShutdownRequest(Message):
    TYPE: ClassVar[str] = "shutdown"
    id: str = ""


@dataclass
class ModelsRequest(Message):
    """List the configured models: size, and whether they are on disk. Answered at once."""

    TYPE: ClassVar[str] = "models"
    id: str = ""


@dataclass
class DownloadRequest(Message):
    """Fetch one configured model into the Hugging Face cache. Runs as a job: progress
    events, ``cancel`` (between files), ``result`` with the refreshed model list."""

    TYPE: ClassVar[str] = "download"
    id: str = ""
    model: str = ""                      # a ``ModelEntry.id`` (or a role) of the configured set


@dataclass
class DeleteRequest(Message):
    """Remove one configured model's files from the Hugging Face cache."""

    TYPE: ClassVar[str] = "delete"
    id: str = ""
    model: str = ""


# Events --------------------------------------------------------------------------------------

@dataclass
class Progress(Message):
    TYPE: ClassVar[str] = "progress"
    job: str = ""
    stage: str = ""
    step: int = 0
    total: int = 0
    message: str = ""


@dataclass
class Artifact(Message):
    """A file that is ready now, e.g. one target's GLB, before the job ends."""

    TYPE: ClassVar[str] = "artifact"
    job: str = ""
    kind: str = ""                       # "mesh", "detections", "overlay", "run", "layout" (the manifest,
                                         # once it holds every target's depth statistic)
    path: str = ""
    target: str | None = None
    instance: int = 0
    box: list[float] | None = None       # pixels of the original image
    image_size: list[int] | None = None  # the original image's width and height
    seed: int | None = None


@dataclass
class Result(Message):
    TYPE: ClassVar[str] = "result"
    id: str = ""
    ok: bool = True
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Error(Message):
    TYPE: ClassVar[str] = "error"
    id: str | None = None
    code: str = ErrorCode.INTERNAL.value
    message: str = ""
    detail: str | None = None
    target: str | None = None            # set when one target failed and the job goes on

    @classmethod
    def from_exception(cls, request_id: str | None, exc: ProtocolError) -> "Error":
        return cls(id=request_id, code=exc.code.value, message=exc.message,
                   detail=exc.detail, target=exc.target)

    def to_exception(self) -> ProtocolError:
        try:
            code = ErrorCode(self.code)
        except ValueError:
            code = ErrorCode.INTERNAL
        return ProtocolError(code, self.message, self.detail, self.target)


# Model manager -------------------------------------------------------------------------------

MODEL_STATES = ("cached", "partial", "missing")


@dataclass
class ModelEntry:
    """One configured model as the model manager shows it (a ``models`` result carries a list)."""

    id: str = ""                         # what ``download`` and ``delete`` take
    role: str = ""                       # grounding, matting, shape, ...
    repo_id: str = ""
    subfolder: str | None = None
    revision: str | None = None
    state: str = "missing"               # cached (complete), partial (an interrupted download), missing
    local: bool = False                  # a folder on disk (the tiny models), not the hub cache
    size_bytes: int = 0
    size_measured: bool = False          # True: bytes on disk; False: the registry's estimate
    shared_with: list[str] = field(default_factory=list)   # ids stored in the same cached revision

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> "ModelEntry":
        if not isinstance(data, dict):
            raise ProtocolError(ErrorCode.BAD_REQUEST, "a model entry must be an object")
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})  # newer fields are ignored


REQUEST_TYPES: dict[str, type[Message]] = {
    cls.TYPE: cls for cls in (Hello, GenerateRequest, DetectRequest, SuggestRequest, RetextureRequest, CancelRequest,
                              StatusRequest, ShutdownRequest, ModelsRequest, DownloadRequest,
                              DeleteRequest)
}
EVENT_TYPES: dict[str, type[Message]] = {
    cls.TYPE: cls for cls in (Hello, Progress, Artifact, Result, Error)
}


def decode(line: str | bytes, registry: dict[str, type[Message]]) -> Message:
    """Parse one line into a message of ``registry``; raise ``ProtocolError`` on anything else."""
    if isinstance(line, bytes):
        if len(line) > MAX_LINE_BYTES:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"line is over {MAX_LINE_BYTES} bytes")
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProtocolError(ErrorCode.BAD_REQUEST, "line is not UTF-8") from exc
    try:
        data = json.loads(line)
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(ErrorCode.BAD_REQUEST, "line is not valid JSON", str(exc)[:200]) from exc
    if not isinstance(data, dict):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "a message must be a JSON object")
    version = data.get("v")
    if isinstance(version, bool) or version != PROTOCOL_MAJOR:  # true == 1 in Python
        raise ProtocolError(ErrorCode.VERSION_MISMATCH,
                            f"message is protocol version {version!r}, this side speaks {PROTOCOL_MAJOR}")
    kind = data.get("type")
    cls = registry.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"unknown message type {kind!r}")
    return _build(cls, data)


def _build(cls: type[Message], data: dict[str, Any]) -> Message:
    known = {f.name: f for f in fields(cls)}
    values: dict[str, Any] = {}
    for name, value in data.items():
        if name in ("v", "type"):
            continue
        if name not in known:
            continue  # newer minor versions may add fields; ignoring them keeps old peers working
        if name == "options":
            value = JobOptions.from_dict(value)
        elif name == "targets":
            value = validate_targets(value)
        elif name in ("id", "image", "job", "model", "mesh", "name") and value is not None \
                and not isinstance(value, str):
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"{name} must be a string")
        values[name] = value
    return cls(**values)


def request_id_of(line: str | bytes) -> str | None:
    """Best-effort id of a line that failed to decode, so the error can name its request."""
    try:
        data = json.loads(line)
    except (ValueError, RecursionError, UnicodeDecodeError):
        return None
    value = data.get("id") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


def check_peer_hello(hello: Hello, peer: str, needed_major: int = PROTOCOL_MAJOR) -> None:
    """Raise ``version_mismatch`` with a message a user can act on."""
    # A peer's hello is not type-checked on decode: "protocol" may be anything, not just a list.
    major = hello.protocol[0] if isinstance(hello.protocol, list) and hello.protocol else None
    if major != needed_major:
        raise ProtocolError(
            ErrorCode.VERSION_MISMATCH,
            f"the {peer} speaks protocol {major} (version {hello.version or '?'}), "
            f"this side needs {needed_major}: reinstall so both come from the same release",
        )
