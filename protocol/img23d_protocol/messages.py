"""Every message on the wire, as a dataclass; ``TYPE`` is its ``type``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar

from .artifacts import ArtifactKind
from .errors import ErrorCode, ProtocolError
from .options import JobOptions
from .plain import dumps
from .rig_bones import RigBone
from .riggers import RIGGERS
from .version import PROTOCOL_MAJOR, PROTOCOL_MINOR


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
    # Backend only (1.4): the largest settings its memory can hold for one target, by option
    # name (octree_resolution, texture_size); see ``options.over_limits``.
    limits: dict[str, int] = field(default_factory=dict)
    # Backend only (1.8): its runs folder, resolved, as its artifacts' paths start with it: a
    # remote add-on mirrors the files under it (``transfer.local_path``).
    runs_dir: str | None = None
    # Backend only (1.18): one object's seconds in the slow optional steps on its device
    # (``costs.StepCosts.to_dict``; read with ``StepCosts.from_dict``).
    costs: dict[str, Any] = field(default_factory=dict)


@dataclass
class Request(Message):
    """Base of the requests (all but ``hello``): each carries the ``id`` that its answers name."""

    id: str = ""


@dataclass
class PictureNamesRequest(Request):
    """Base of Generate and Detect: a picture, the names to find in it (none: the whole picture is
    one object), and the job's options."""

    image: str = ""
    targets: list[str] = field(default_factory=list)
    options: JobOptions = field(default_factory=JobOptions)


@dataclass
class GenerateRequest(PictureNamesRequest):
    TYPE: ClassVar[str] = "generate"
    # Boxes the artist drew or corrected (``boxes.py``): name -> [x0, y0, x1, y1] in pixels of the
    # original picture. Those names skip grounding.
    boxes: dict[str, list[float]] = field(default_factory=dict)
    # (1.17) Names the artist turned completion off for (``completion.py``): kept as seen whatever
    # ``options.complete_hidden`` says.
    completion_off: list[str] = field(default_factory=list)
    # (1.19) More pictures of one object (``views.py``): name -> {side: picture path}, sides left,
    # back, right; the front is ``image``.
    views: dict[str, dict[str, str]] = field(default_factory=dict)
    # (1.22) Names made in parts too (``parted_names.py``): name -> its parts' names (empty: the parts model
    # finds them), each drawn from the name's cut-out and its mesh; ``parts_grid`` their decoding grid (0: 256).
    parts: dict[str, list[str]] = field(default_factory=dict)
    parts_grid: int = 0
    # (1.24) What the picture should show, when the artist has none (``prompt.py``): the backend makes the
    # picture from it, then reads it as any picture. ``image`` is then empty: a request gives one or the other.
    prompt: str = ""
    # (1.27) What ``image`` was made from when img23d made it (Make Picture, a Generate from a prompt): its prompt and
    # seed, which the run's manifest keeps beside the picture (``prompt.py``). ""/None: none, or an older add-on.
    image_prompt: str = ""
    image_seed: int | None = None


@dataclass
class DetectRequest(PictureNamesRequest):
    TYPE: ClassVar[str] = "detect"


@dataclass
class SuggestRequest(Request):
    """Ask the grounding model which distinct objects the picture shows: names and boxes back."""

    TYPE: ClassVar[str] = "suggest"
    image: str = ""
    options: JobOptions = field(default_factory=JobOptions)


@dataclass
class RetextureRequest(Request):
    """Paint an existing mesh (a file the add-on wrote: see ``uv/retexture.py``) from an image."""

    TYPE: ClassVar[str] = "retexture"
    image: str = ""
    mesh: str = ""
    name: str = "mesh"                   # the object's name, for file names and messages
    options: JobOptions = field(default_factory=JobOptions)
    # (1.19) More pictures of the mesh (``views.py``): side -> picture path; the front is ``image``.
    views: dict[str, str] = field(default_factory=dict)


@dataclass
class RetopoRequest(Request):
    """(1.13) Remake an existing mesh's topology and bake its look onto it: the mesh as Re-texture sends
    one (a file the add-on wrote, with its UVs and colour texture when it has them), ``options``'
    ``topology`` (triangles or quads), ``face_target`` and ``bake_size``. Its original is kept."""

    TYPE: ClassVar[str] = "retopo"
    mesh: str = ""
    name: str = "mesh"                   # the object's name, for file names and messages
    options: JobOptions = field(default_factory=JobOptions)


# (1.21) How a parts job cuts its mesh: "split" names each part and finds it on renders of the mesh with
# the open grounding and matting models (no hidden geometry invented); (1.22) "model": a parts model
# (``parts_models.PARTS_MODELS``) draws each part, from a picture, a mesh, or both, with a mask or names.
PARTS_MODES = ("split", "model")


@dataclass
class PartsRequest(Request):
    """(1.21) Cut an existing mesh (a file the add-on wrote, as Retopo's) into parts, one per name of
    ``targets``; each part a GLB in the mesh's own frame, and the whole as one GLB of named parts.
    (1.22) Mode "model": the parts drawn by a parts model from ``image`` (a picture of the object),
    ``mesh``, or both; ``mask`` (an indexed picture the image's size: one part per non-zero value) or
    ``targets`` found on the picture give the parts; without either the model finds them."""

    TYPE: ClassVar[str] = "parts"
    mesh: str = ""
    name: str = "mesh"                   # the object's name, for file names and messages
    targets: list[str] = field(default_factory=list)  # the parts' names
    mode: str = PARTS_MODES[0]
    options: JobOptions = field(default_factory=JobOptions)
    render_size: int = 0                 # split: the renders' side in pixels (0: the job's own, 512)
    image: str = ""                      # (1.22) model: a picture of the object
    mask: str = ""                       # (1.22) model: an indexed part mask the picture's size
    grid: int = 0                        # (1.22) model: the decoding grid's cells a side (0: the job's own)
    max_parts: int = 0                   # (1.22) model: at most this many parts (0: the model's limit)
    steps: int = 0                       # (1.22) model: denoising steps per part (0: the model's own, 50)
    model: str = ""                      # (1.24) model: the parts model that draws (``parts_models.PARTS_MODELS``;
                                         # "": the backend's own); a split takes none


# (1.22) How a rig job finds the skeleton and weights: "geometric" binds by distance along the inside of the
# mesh, no model; "model" has SkinTokens predict both (the geometric binding standing in where it cannot run).
# (1.23) The riggers' rows' names (``riggers.RIGGERS``), the first the default.
RIG_WEIGHTS = tuple(RIGGERS)


@dataclass
class RigRequest(Request):
    """(1.22) Give a mesh (a file the add-on wrote, as Retopo's, or (1.24) a GLB, glTF, OBJ or PLY file as the
    command line's) a skeleton and skin weights: ``skeleton``'s bones (the artist's armature, in the mesh's own
    space; names kept), or (1.24) ``skeleton_file``'s, else one made from the shape."""

    TYPE: ClassVar[str] = "rig"
    mesh: str = ""
    name: str = "mesh"                   # the object's name, for file names and messages
    weights: str = RIG_WEIGHTS[0]
    skeleton: list[RigBone] = field(default_factory=list)
    humanoid_names: bool = True          # a skeleton made from the shape named as Mixamo does, when humanoid
    options: JobOptions = field(default_factory=JobOptions)
    # (1.24) A GLB or glTF whose first skin's joints are the skeleton (``rig_levels.py``); not with ``skeleton``.
    skeleton_file: str = ""
    # (1.24) Other levels of detail of the object (mesh files): each given the same skeleton, its weights carried
    # from the rigged mesh by nearest surface (``rig_levels.py``).
    also: list[str] = field(default_factory=list)


@dataclass
class RegenerateRequest(Request):
    """New meshes for some objects of a finished Generate run, from that run's own cut-outs: no
    grounding, matting or depth again. ``keys`` are the objects' stems in the run (a GLB's name
    without ``.glb``); the new meshes go to a run folder of their own inside ``run``
    (``regenerated/``), so the run keeps every version."""

    TYPE: ClassVar[str] = "regenerate"
    run: str = ""                        # the Generate run's folder
    keys: list[str] = field(default_factory=list)
    options: JobOptions = field(default_factory=JobOptions)


@dataclass
class CancelRequest(Request):
    TYPE: ClassVar[str] = "cancel"
    job: str | None = None               # the job to cancel; None = whatever is running


@dataclass
class StatusRequest(Request):
    TYPE: ClassVar[str] = "status"


@dataclass
class ShutdownRequest(Request):
    TYPE: ClassVar[str] = "shutdown"


@dataclass
class ModelsRequest(Request):
    """List the configured models: size, and whether they are on disk. Answered at once."""

    TYPE: ClassVar[str] = "models"


@dataclass
class DownloadRequest(Request):
    """Fetch one configured model into the Hugging Face cache. Runs as a job: progress
    events, ``cancel`` (between files), ``result`` with the refreshed model list."""

    TYPE: ClassVar[str] = "download"
    model: str = ""                      # a ``ModelEntry.id`` (or a role) of the configured set
    # (1.10) Keys of the restricted licences the artist accepted (``licences.py``): a model under
    # one of them that is not yet downloaded is refused (``licence_not_accepted``) unless listed.
    accepted_licences: list[str] = field(default_factory=list)


@dataclass
class DeleteRequest(Request):
    """Remove one configured model's files from the Hugging Face cache."""

    TYPE: ClassVar[str] = "delete"
    model: str = ""


@dataclass
class UploadRequest(Request):
    """One chunk of a file the add-on sends to a backend on another machine (1.8; ``transfer.py``).

    Every chunk of one file carries the same ``id``, ``name``, ``size`` and ``sha256``; chunks come
    in order (``offset``); the one with ``done`` is answered by a ``result`` whose ``path`` is the
    file on the backend, which a job request then names."""

    TYPE: ClassVar[str] = "upload"
    name: str = ""                       # the file's base name (the backend sanitises it)
    size: int = 0                        # of the whole file, in bytes
    sha256: str = ""                     # of the whole file, hex
    offset: int = 0                      # where this chunk's bytes start
    data: str = ""                       # base64 of this chunk's bytes
    done: bool = False                   # the last chunk


@dataclass
class FetchRequest(Request):
    """Ask for a file under the backend's runs folder (1.8): ``chunk`` events, then a ``result``."""

    TYPE: ClassVar[str] = "fetch"
    path: str = ""                       # a path on the backend, inside its runs folder


@dataclass
class RunsRequest(Request):
    """List the backend's runs, newest first (1.9; ``run_list``); with ``run`` (a run folder the
    backend named), that run's files instead. Answered at once by a ``result``."""

    TYPE: ClassVar[str] = "runs"
    run: str = ""


# Events --------------------------------------------------------------------------------------

@dataclass
class Chunk(Message):
    """Bytes of a fetched file (1.8); the first (offset 0) also says the whole file's size and sha256."""

    TYPE: ClassVar[str] = "chunk"
    id: str = ""                         # the fetch request's id
    offset: int = 0
    data: str = ""                       # base64
    size: int | None = None              # first chunk only
    sha256: str | None = None            # first chunk only


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
    # An ``ArtifactKind`` (a str: a kind a newer backend adds arrives as a plain string).
    kind: ArtifactKind | str = ""
    path: str = ""
    target: str | None = None
    instance: int = 0
    box: list[float] | None = None       # pixels of the original image
    image_size: list[int] | None = None  # the original image's width and height
    seed: int | None = None
    variation: int = 0                   # a mesh of a job with variations: which of them (1..N); 0 = none


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
