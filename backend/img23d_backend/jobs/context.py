"""What a job run works with: the engine's settings, the job as its driver sees it, and the
device and model manager with what the model set can do (``EngineContext``).

The engine (engine.py) is this context and the dispatch of requests to the job runs; the runs
need only this module, so the jobs' imports run one way: engine -> runs -> context.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from img23d_protocol import ErrorCode, Message, ProtocolError, StepCosts, model_family

from ..env import gpu_knobs
from ..env.device import device_name, pick_device
from ..env.job_control import CancelToken
from ..families.table import family_of
from ..models import dtypes, memory_cap, preflight, role_devices, step_costs
from ..models.hub import offline_requested
from ..models.manager import ModelManager, Policy
from ..models.memory import device_memory
from ..models.stage_seconds import host_seconds
from ..catalog import PAINT_ROLES, ModelSet, shape_kind
from ..runs.folders import RunFolder
from ..editors import costs as editor_costs
from ..editors.parts import EditorOptions
from ..materials.costs import materials_seconds
from .loaders import register_models

log = logging.getLogger(__name__)

Emit = Callable[[Message], None]


@dataclass
class EngineSettings:
    models: ModelSet
    runs_dir: Path
    device: str = "auto"                 # auto, cuda, cuda:N, mps, cpu
    device_for: dict[str, str] = field(default_factory=dict)  # a role on another device (models/role_devices.py)
    budget_bytes: int | None = None      # device memory for models; None = free minus a reserve
    # The device memory the whole process may use (--memory-cap-gb: models/memory_cap.py); None: no cap.
    memory_cap_bytes: int | None = None
    offline: bool | None = None          # None = from HF_HUB_OFFLINE / IMG23D_OFFLINE
    policy: Policy = Policy.MANAGED      # the others exist for the benchmark's comparison
    # Restricted licences accepted for every job (the command line's --accept-licence); a job's
    # options may add the artist's (models/licence_gate.py).
    accepted_licences: frozenset[str] = frozenset()


@dataclass
class Job:
    """A job as its driver sees it: its id, where its events go, its cancel token, and (once the
    job has made it) its run folder, so that the driver can close it if the process must end."""

    id: str
    emit: Emit
    cancel: CancelToken = field(default_factory=CancelToken)
    run_folder: RunFolder | None = None  # None until the request has passed its checks
    # Where its run folder goes instead of the engine's runs folder (the warm-up's, which is no artist's run).
    runs_dir: Path | None = None

    def abandon(self, reason: str) -> None:
        """Close the run's manifest as cancelled when the job cannot finish it in time (exit)."""
        run = self.run_folder
        if run is None or run.manifest.status != "running":
            return
        try:
            run.close_with("cancelled", {"code": ErrorCode.CANCELLED.value, "message": reason})
        except ProtocolError as exc:
            log.error("could not close the manifest of job %s: %s", self.id, exc)


class EngineContext:
    """The device, the model manager (which keeps models between jobs) and what the model set can do."""

    def __init__(self, settings: EngineSettings) -> None:
        self.settings = settings
        self.device = pick_device(settings.device)
        self.cap = None if settings.memory_cap_bytes is None else memory_cap.Cap(settings.memory_cap_bytes)
        budget = settings.budget_bytes
        if self.cap is not None:  # the models within the cap beside a stage's working memory; CUDA's allocator too
            budget = self.cap.models_budget(getattr(self.device, "type", "") == "cuda", budget)
            memory_cap.apply_fraction(self.cap, self.device)
        self.manager = ModelManager(self.device, budget_bytes=budget, offline=settings.offline,
                                    policy=settings.policy,
                                    role_devices=role_devices.pick_role_devices(settings.device_for, self.device))
        self.manager.precision = gpu_knobs.tf32_scope  # TF32 where the role in use allows it (CUDA only)
        self.manager.accepted_licences = settings.accepted_licences
        register_models(self.manager, settings.models)

    @property
    def can_paint(self) -> bool:
        """Whether the set has a paint model (Hunyuan's comes with its delight model; the licence-clean
        family's paints alone)."""
        return "paint" in self.manager.roles

    @property
    def no_texture(self) -> str:
        """The one sentence a job that asked for texture gives when this model set has no texture
        models (a family that cannot paint; both of img23d's can)."""
        family = model_family(shape_kind(self.settings.models.shape).family)
        return family.no_texture or ("texture skipped: this model set has no texture models, so its meshes "
                                     "are untextured")

    def offline(self) -> bool:
        """Whether nothing may be downloaded: the settings' choice, else the environment's."""
        return offline_requested() if self.settings.offline is None else self.settings.offline

    def describe(self) -> dict[str, Any]:
        return {"device": str(self.device), "device_name": device_name(self.device),
                "memory": device_memory(self.device).to_dict(), "models": self.settings.models.describe(),
                "limits": self.limits(), "costs": self.step_costs().to_dict()}

    def step_costs(self, request: Any = None) -> StepCosts:
        """One object's seconds in completion and the material step on this device, where the set has
        those models (``models.step_costs``; the device's speed is measured once per process); with a
        ``request``, the mean of its objects', each with the views it would be completed with."""
        roles = self.manager.roles
        editor = self.manager.spec("editor") if "editor" in roles else None
        pixels = int(editor.options.get("working_pixels", 0)) if editor is not None else 0
        views = step_costs.request_references(request, EditorOptions.of(editor).pictures) if editor else ()
        # Each model's weights in 16 bits as its spec states them: a replica of another size works in proportion.
        completion = editor_costs.completion_costs(editor, self.device, views) if editor is not None else None
        # The material model's compute, and the bake of its maps at the default texture's size (its tiny replica's
        # whole time: the model's alone said "about 1 s" of 5 to 6).
        materials = self.materials_model_seconds() + host_seconds("materials", 1) if "materials" in roles else 0.0
        most = editor_costs.most_edit_pixels(editor) if editor is not None else 0
        return step_costs.step_costs(self.device, completion, pixels, materials, most)

    def materials_model_seconds(self) -> float:
        """One painted object's material step by the set's model alone (``materials.costs``), on the paint model's
        views, at their side where it is smaller than the model's own; 0 without a material model."""
        roles = self.manager.roles
        if "materials" not in roles:
            return 0.0
        view_side = int(self.manager.spec("paint").options.get("view_size", 0)) if "paint" in roles else 0
        return materials_seconds(self.manager.spec("materials"), self.device, view_side)

    def limits(self) -> dict[str, int]:
        """The largest settings one target fits with, beside the models its stage holds."""
        sizes = {role: model["bytes"] for role, model in self.manager.snapshot()["models"].items()}
        paint = sum(sizes[role] for role in PAINT_ROLES if role in sizes) if self.can_paint else None
        shape = self.shape_weights if self.shape_weights is not None else sizes.get("shape", 0)
        return preflight.limits(self.device, shape, paint, guidance=self.classifier_free, memory=self.shape_memory,
                                room=self.total_room())

    def runtime_record(self, role: str) -> dict[str, Any]:
        """How ``role``'s model runs, for the manifest: its device, whether its float32 products run in TF32
        (``env/gpu_knobs.py``, CUDA only) and, for the grounding model, its attention implementation."""
        device = self.manager.device_of(role)
        record: dict[str, Any] = {"device": str(device), "tf32": gpu_knobs.tf32_allowed(role, device)}
        if role == "grounding":
            record["attention"] = gpu_knobs.attention_for(device)
        return record

    def ram_sizes(self) -> dict[str, int]:
        """Each role placed in RAM beside a GPU (--device-for ROLE=cpu): its weights there, float32 on a CPU
        (twice its spec's 16-bit estimate) until measured."""
        models = self.manager.snapshot()["models"]
        return {role: models[role]["bytes"] if models[role]["measured"] else 2 * self.manager.spec(role).size_bytes
                for role in self.manager.role_devices if role in models}

    def total_room(self) -> preflight.Room:
        """What the machine holds for a stage at all: its RAM less what the roles kept in RAM hold there for
        good, and the GPU's memory (each device's memory counted apart), no more than a memory cap."""
        held = role_devices.ram_held(self.ram_sizes(), self.manager.role_devices, self.device)
        room = role_devices.beside_ram(preflight.total_room(self.device), held)
        return room if self.cap is None else self.cap.device_room(room)

    @property
    def own_paint(self) -> preflight.PaintModel | None:
        """The paint model's memory for the job's preflight, where its family counts it (the
        licence-clean family's: its weights float32 on a CPU, twice its float16 size, and its
        sampling); None where the preflight's own figures cover it, or the set cannot paint."""
        if not self.can_paint:
            return None
        spec = self.manager.spec("paint")
        return family_of(spec).paint_model(spec, self.device)

    @property
    def shape_precision(self) -> dtypes.Precision | None:
        """The dtype the shape model runs in on this device, as its family decides it (Step1X-3D's
        per device); None where its loader's own rule decides (Hunyuan3D-2's ``working_dtype``)."""
        return family_of(self.settings.models.shape).shape_precision(self.device)

    @property
    def shape_memory(self) -> preflight.ShapeMemory:
        """How the shape model's memory grows (its family's volume decoding and DiT, in its dtype)."""
        return family_of(self.settings.models.shape).shape_memory(self.shape_precision, self._shape_parameters)

    @property
    def shape_weights(self) -> int | None:
        """The Step1X-3D geometry model's weights in the dtype it runs in: as measured once loaded,
        else its parameters at that dtype's size (float32 on a CPU: twice the registry's 16-bit
        estimate). None for Hunyuan3D-2's, whose preflight does not count them before the job."""
        precision = self.shape_precision
        if precision is None:
            return None
        model = self.manager.snapshot()["models"]["shape"]
        return model["bytes"] if model["measured"] else self._shape_parameters * precision.bytes_per_parameter

    @property
    def _shape_parameters(self) -> int:
        # The Step1X specs' sizes are their parameters at 16 bits (families/step1x/specs.py).
        return self.manager.spec("shape").size_bytes // 2

    @property
    def classifier_free(self) -> bool:
        """The shape model runs classifier-free guidance (two DiT passes per image): its kind says."""
        return not shape_kind(self.settings.models.shape).embedded_guidance
