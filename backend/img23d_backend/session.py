"""A session: one engine whose models stay loaded between jobs, and the typed options and results of
its jobs. The commands and the Python API (``api.py``, which documents it) run jobs through it.
"""

from __future__ import annotations

import errno
import os
import uuid
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar

from img23d_protocol import (ErrorCode, GenerateJobResult, GenerateRequest, JobOptions, JobResult, Manifest, Message,
                             PartsJobResult, PartsRequest, PictureJobResult, PictureRequest, ProtocolError,
                             RetextureJobResult, RetextureRequest, RetopoJobResult, RetopoRequest,
                             SuggestJobResult, SuggestRequest, parted_names_from_text, read_manifest, validate_targets)

from .env.job_control import CancelToken
from .env.library_output import quiet_empty_warnings
from .env.spawned_main import refuse_in_spawned_main
from .jobs import Engine, EngineSettings, Job
from .models import env_probe, licence_gate, memory_cap
from .catalog import Models, model_set, parts_spec_for
from .readers.meshes import artist_mesh_file

R = TypeVar("R", bound=JobResult)
AUTO = "auto"  # names="auto": the grounding model suggests the names first (every instance of each)
Events = Callable[[Message], None]


@dataclass
class MeshResult:
    """One object of a Generate run: ``status`` done or failed; ``mesh`` its GLB when done."""

    target: str
    instance: int
    variation: int
    seed: int | None
    status: str
    mesh: Path | None
    error: dict[str, str] | None = None
    # With a topology (JobOptions.topology): the manifest's finish entry (method, quads, fallback...);
    # ``mesh`` is then the finished (low) mesh and ``high_mesh`` the generated one.
    finish: dict[str, Any] | None = None
    high_mesh: Path | None = None
    splats: Path | None = None        # with options.splats: its Gaussian splats, <stem>.splat.ply


@dataclass
class GenerateResult:
    run_dir: Path
    names: list[str]                  # the names asked for (or suggested, with names="auto")
    meshes: list[MeshResult]
    seed: int
    job: GenerateJobResult | None = field(repr=False, default=None)  # the job's whole result

    @property
    def failed(self) -> list[MeshResult]:
        return [m for m in self.meshes if m.status != "done"]


@dataclass
class RetextureResult:
    run_dir: Path
    texture: Path                     # the painted texture, on the mesh's own UVs (or ``uvs``)
    uvs: Path | None                  # new per-corner UVs when the mesh had none
    uv_created: bool
    faces: int
    mesh: Path                        # the painted mesh as a GLB (its triangles, the texture on its UVs)
    metallic_roughness: Path | None = None  # glTF's metallicRoughness texture, on the same UVs (materials on)
    materials_skipped: str | None = None    # why the mesh kept its colour alone, when the material step failed
    # (issue 55) The photos that coloured the texture (front and sides), and each view left out with why.
    views_used: list[str] = field(default_factory=list)
    views_left_out: dict[str, str] = field(default_factory=dict)


@dataclass
class RetopoResult:
    run_dir: Path
    mesh: Path                        # the finished (low) GLB: UVs, colour and normal maps, extras img23d_quads
    high_mesh: Path                   # the mesh as it came, as a GLB
    finish: dict[str, Any]            # the manifest's finish entry: method, faces in and out, quads, fallback...
    painted: RetextureResult | None = None  # with an image: the re-texture that painted the mesh first

    @property
    def fallback(self) -> str | None:
        """The one sentence said when quads were asked for and not made."""
        return self.finish.get("fallback")


def make_engine(models: Models, out: Path, probes: Sequence[str] = env_probe.GENERAL, *,
                tiny_set: bool = True) -> Engine:
    """The engine the commands and the API run jobs on (one device, models kept between jobs), once
    ``probes`` passed (a command-line job adds ``env_probe.MODEL_LOADING``: it stops before its run
    folder is made rather than at its first model). ``tiny_set`` False: the tiny set's replicas are not
    built, for jobs that read none of them (a rig: its rigger's replica is its own, written on first use)."""
    # Before anything is built or loaded: every command's, the batch's workers' and the Python API's, whose value
    # arrives unread (a text, a bool).
    cap_gb = memory_cap.check_cap_gb(models.memory_cap_gb)
    chosen = model_set(models.models, grounding=models.grounding, matting=models.matting, depth=models.depth,
                       shape=models.shape,
                       paint=models.paint, family=models.family, editor=models.editor, parts=models.parts)
    if models.models == "tiny" and tiny_set:
        ensure_tiny_models(chosen.families())
    quiet_empty_warnings()   # diffusers' float32 warning of an empty list: five empty lines a job
    budget = None if models.budget_gb is None else int(models.budget_gb * (1 << 30))
    if models.offline:
        os.environ["HF_HUB_OFFLINE"] = "1"
    # The parts model a job registers when it first asks (``catalog.parts_spec_for``) is one of the set's too: left
    # out, a Generate in parts was refused for its licence with --accept-licence given.
    accepted = (licence_gate.restricted_keys(replace(chosen, parts=parts_spec_for(chosen)))
                if models.accept_licence else frozenset())
    # Resolved, as the hello names it: a runs folder through a link (a cluster's /home), relative or with "..",
    # made run paths the add-on refused over SSH as "not inside the backend's runs folder".
    engine = Engine(EngineSettings(models=chosen, runs_dir=Path(out).expanduser().resolve(), device=models.device,
                                   device_for=dict(models.device_for),
                                   budget_bytes=budget, offline=True if models.offline else None,
                                   memory_cap_bytes=None if cap_gb is None else int(cap_gb * (1 << 30)),
                                   accepted_licences=accepted))
    # The general probes; the rest run before each model's first load (the model manager).
    env_probe.require(probes, engine.device, needed_by="the backend")
    return engine


def ensure_tiny_models(families: tuple[str, ...]) -> None:
    """Build the tiny models on first use (checking the shared models' replicas and ``families``');
    a folder that cannot be written is one clear sentence."""
    from safetensors import SafetensorError

    from .replicas.build import ForeignFolder, default_tiny_root
    from .replicas.build import ensure_tiny_models as build

    root = default_tiny_root()
    try:
        build(root, families)
    except ForeignFolder as exc:
        raise ProtocolError(ErrorCode.DISK, f"the tiny models cannot be built: {exc.strerror}") from exc
    except OSError as exc:
        reasons = {errno.EACCES: "permission denied", errno.EPERM: "permission denied",
                   errno.EROFS: "the disk is read-only", errno.ENOSPC: "the disk is full",
                   errno.EEXIST: f"the file {exc.filename} is in the way", errno.ENOTDIR: f"{exc.filename} is a file"}
        raise _cannot_build(root, reasons.get(exc.errno or 0, exc.strerror or type(exc).__name__), exc) from exc
    except SafetensorError as exc:  # safetensors' own error for a write that failed, no OSError: its text says why
        full = f"os error {errno.ENOSPC})" in str(exc)
        raise _cannot_build(root, "the disk is full" if full else str(exc).strip().splitlines()[-1][:200], exc) \
            from exc


def _cannot_build(root: Path, reason: str, exc: BaseException) -> ProtocolError:
    return ProtocolError(ErrorCode.DISK, f"the tiny models cannot be built in {root}: {reason}; set "
                         "IMG23D_TINY_MODELS to a folder you can write", f"{type(exc).__name__}: {exc}")


class Session:
    """An engine with its models kept loaded between jobs; run folders go into ``out``. ``tiny_set`` False
    (``make_engine``): a session for jobs that read no model of the set, which builds none of the tiny set's
    replicas (the rig command's: a whole tiny set is about 9 s to build on a fresh folder, its rigger's
    replica alone a fraction of that)."""

    def __init__(self, out: str | Path = "img23d-runs", models: Models | None = None,
                 engine: Engine | None = None, *, tiny_set: bool = True) -> None:
        refuse_in_spawned_main("img23d_backend.api.Session")
        self.models = models or Models()
        self.out = Path(out).expanduser()
        self.engine = engine or make_engine(self.models, self.out, tiny_set=tiny_set)

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Free the models' memory (the session can still run jobs: they load again)."""
        self.engine.manager.unload_all()

    def generate(self, image: str | Path = "", names: Sequence[str] | str | None = None,
                 options: JobOptions | None = None, *, boxes: dict[str, list[float]] | None = None,
                 events: Events | None = None, cancel: CancelToken | None = None,
                 job: Job | None = None, views: dict[str, dict[str, str]] | None = None,
                 prompt: str = "") -> GenerateResult:
        """One mesh per name in ``image`` (no names: the whole picture as one object; ``"auto"``:
        the names the grounding model suggests, every instance of each); ``views``: more pictures of
        names, ``{name: {side: picture}}`` (``img23d_protocol.views``); ``prompt``: the picture made from
        this text instead (``image`` ""), as ``generate --prompt`` makes it (with ``"auto"``: made first, in a run
        folder of its own, then read as any picture: ``picture_for_names``)."""
        options = options or JobOptions()
        made_from: dict[str, Any] = {}   # the picture made first (``"auto"``): its prompt and seed, for the manifest
        if isinstance(names, str) and names.strip().casefold() == AUTO:
            if prompt:
                picture = picture_for_names(prompt, options)
                made = _ran(self.engine.run(picture, Job(id=picture.id, emit=events or _ignore,
                                                         cancel=cancel or CancelToken())), PictureJobResult)
                image, prompt, made_from = made.picture, "", made_from_fields(picture, made)
            names, every = self.suggest(image, options, events=events, cancel=cancel)
            if every:
                options = JobOptions(**{**asdict(options), "keep": "all"})
        parts: dict[str, list[str]] = {}
        if isinstance(names, str):   # as --targets reads it: "lamp (shade, arm)" is a lamp made in parts too
            names, parts = parted_names_from_text(names, "names")
        request = GenerateRequest(id=_job_id(), image=str(image), targets=validate_targets(list(names or [])),
                                  options=options, boxes=dict(boxes or {}), views=dict(views or {}), prompt=prompt,
                                  parts=parts, **made_from)
        job = job or Job(id=request.id, emit=events or _ignore, cancel=cancel or CancelToken())
        result = _ran(self.engine.run(request, job), GenerateJobResult)
        run_dir = Path(result.run_dir)
        meshes = [MeshResult(target=t.target, instance=t.instance, variation=t.variation, seed=t.seed,
                             status=t.status, mesh=run_dir / t.mesh if t.mesh else None, error=t.error,
                             finish=t.finish.to_dict() if t.finish else None,
                             high_mesh=run_dir / t.finish.high_mesh if t.finish else None,
                             splats=run_dir / t.splats if t.splats else None)
                  for t in result.targets]
        return GenerateResult(run_dir=run_dir, names=list(request.targets), meshes=meshes, seed=result.seed,
                              job=result)

    def suggest(self, image: str | Path, options: JobOptions | None = None, *, events: Events | None = None,
                cancel: CancelToken | None = None) -> tuple[list[str], bool]:
        """The names the grounding model suggests for ``image``, and whether any was seen more than once."""
        request = SuggestRequest(id=_job_id(), image=str(image), options=options or JobOptions())
        result = _ran(self.engine.run(request, Job(id=request.id, emit=events or _ignore,
                                                   cancel=cancel or CancelToken())), SuggestJobResult)
        if not result.names:
            raise ProtocolError(ErrorCode.TARGET_NOT_FOUND, "the grounding model suggested no names for this picture")
        return validate_targets(list(result.names)), result.all_instances

    def retexture(self, mesh: str | Path, image: str | Path, options: JobOptions | None = None, *,
                  name: str = "mesh", events: Events | None = None, cancel: CancelToken | None = None,
                  job: Job | None = None, views: dict[str, str | Path] | None = None) -> RetextureResult:
        """Paint ``mesh`` (the add-on's ``.npz``, or a GLB/OBJ/PLY file: see ``mesh_files``) from
        ``image``; its topology and UVs stay (a mesh without UVs gets new ones, in ``uvs``). ``views``:
        more pictures of it, {side: picture} (sides left, back, right), each projected onto the texture
        with the front after painting (``views.projection``)."""
        with artist_mesh_file(Path(mesh)) as npz:
            request = RetextureRequest(id=_job_id(), image=str(image), mesh=str(npz), name=name,
                                       options=options or JobOptions(),
                                       views={side: str(path) for side, path in (views or {}).items()})
            job = job or Job(id=request.id, emit=events or _ignore, cancel=cancel or CancelToken())
            result = _ran(self.engine.run(request, job), RetextureJobResult)
        run_dir = Path(result.run_dir)
        manifest = read_manifest(run_dir)  # once: the mesh it names and the photos' outcomes
        uvs = Path(result.uvs) if result.uvs else None
        maps = Path(result.metallic_roughness) if result.metallic_roughness else None
        return RetextureResult(run_dir=run_dir, texture=Path(result.texture), uvs=uvs, uv_created=result.uv_created,
                               faces=result.faces, mesh=_painted_mesh(manifest, run_dir),
                               metallic_roughness=maps, materials_skipped=result.materials_skipped,
                               **_projection(manifest))

    def retopo(self, mesh: str | Path, options: JobOptions | None = None, *, name: str = "mesh",
               image: str | Path | None = None, events: Events | None = None, cancel: CancelToken | None = None,
               job: Job | None = None) -> RetopoResult:
        """Remake ``mesh`` (the add-on's ``.npz``, or a GLB/OBJ/PLY file) as ``options.topology``
        ("triangles" or "quads") at ``options.face_target`` faces, its colour (a texture or vertex
        colours, when it has one) and a normal map baked at ``options.bake_size``. Loads no model,
        unless ``image`` is given: the mesh is then painted from it first (``retexture``, with
        ``options``' paint settings, a run folder of its own) and the painted mesh is finished."""
        options = options or JobOptions(topology="quads")
        painted = None
        if image is not None:
            paint = JobOptions(**{**asdict(options), "texture": True, "topology": "as-generated"})
            painted = self.retexture(mesh, image, paint, name=name, events=events, cancel=cancel, job=job)
            mesh = painted.mesh
        with artist_mesh_file(Path(mesh), colour=True) as npz:
            request = RetopoRequest(id=_job_id(), mesh=str(npz), name=name, options=options)
            job = job or Job(id=request.id, emit=events or _ignore, cancel=cancel or CancelToken())
            result = _ran(self.engine.run(request, job), RetopoJobResult)
        return RetopoResult(run_dir=Path(result.run_dir), mesh=Path(result.mesh), high_mesh=Path(result.high_mesh),
                            finish=result.finish.to_dict() if result.finish else {}, painted=painted)

    def parts(self, mesh: str | Path, names: list[str], *, name: str = "mesh", options: JobOptions | None = None,
              events: Events | None = None, cancel: CancelToken | None = None,
              job: Job | None = None) -> PartsJobResult:
        """Cut ``mesh`` (the add-on's ``.npz``, or a GLB/OBJ/PLY file) into one part per name of ``names``
        (``parts/split/driver.py``: renders, grounding, matting, each face one name, each cut capped); each
        part's GLB and the whole's are in the result's run folder (``PartsJobResult``)."""
        with artist_mesh_file(Path(mesh)) as npz:
            request = PartsRequest(id=_job_id(), mesh=str(npz), name=name, targets=list(names),
                                   options=options or JobOptions())
            job = job or Job(id=request.id, emit=events or _ignore, cancel=cancel or CancelToken())
            return _ran(self.engine.run(request, job), PartsJobResult)


def picture_for_names(prompt: str, options: JobOptions) -> PictureRequest:
    """A Generate from ``prompt`` whose names are suggested (``"auto"``, ``--targets auto``): its picture made first
    as Make Picture makes one (its seed, side and acceptance of a long run the job's), whose names the grounding
    model then suggests as for any picture, and which the Generate then reads; the picture's run keeps the prompt."""
    return PictureRequest(id=_job_id(), prompt=prompt, options=JobOptions(
        seed=options.seed, random_seed=options.random_seed, edit_size=options.edit_size,
        accept_long=options.accept_long, accepted_licences=list(options.accepted_licences)))


def made_from_fields(picture: PictureRequest, made: PictureJobResult) -> dict[str, Any]:
    """What the Generate from the picture ``picture_for_names`` made says of it (``image_prompt``, ``image_seed``), as
    the add-on sends a picked made picture's: its run's manifest keeps the prompt and seed, and its folder is named
    from the prompt (it was "<time>-input", after the picture's file, with no word of the prompt)."""
    return {"image_prompt": picture.prompt, "image_seed": made.seed}


def _ran(result: JobResult, kind: type[R]) -> R:
    """``result`` as the ``kind`` its request is answered with (``JOB_RESULTS``)."""
    if not isinstance(result, kind):
        raise ProtocolError(ErrorCode.INTERNAL, f"a {kind.KIND} job answered with a {type(result).__name__}")
    return result


def _painted_mesh(manifest: Manifest, run_dir: Path) -> Path:
    """A Re-texture's GLB, as its ``manifest``'s record names it (``jobs/kinds/retexture.py`` writes it)."""
    if not manifest.done:
        raise ProtocolError(ErrorCode.INTERNAL, f"the Re-texture in {run_dir} finished without its mesh")
    return run_dir / Path(manifest.done[0].mesh).name  # never outside the run


def _projection(manifest: Manifest) -> dict[str, Any]:
    """Which photos coloured a Re-texture's texture and which views were left out (with why), as its
    ``manifest``'s record says (``jobs/steps/photo_colour.py``)."""
    outcomes = (manifest.records[0].projection or {}) if manifest.records else {}
    return {"views_used": [side for side, outcome in outcomes.items() if outcome.get("used")],
            "views_left_out": {side: outcome["left_out"] for side, outcome in outcomes.items()
                               if outcome.get("left_out")}}


def _job_id() -> str:
    return uuid.uuid4().hex[:12]


def _ignore(message: Message) -> None:
    """No one is listening to this job's events."""
