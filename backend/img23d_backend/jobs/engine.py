"""The engine: one device, one model manager, one job at a time."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from img23d_protocol import (HUNYUAN3D, DetectRequest, ErrorCode, GenerateRequest, JobOptions, Message, ProtocolError,
                             RegenerateRequest, RetextureRequest, SuggestRequest, model_family)

from ..models import preflight
from ..env.device import device_name, pick_device
from .loaders import register_models
from ..models.hub import offline_requested, refuse_unaccepted
from ..models.manager import ModelManager, Policy
from ..models.memory import device_memory
from ..models.registry import PAINT_ROLES, SHAPE, ModelSet, ModelSpec, is_clean_paint, shape_kind
from ..runs.folders import RunFolder
from ..stages._common import CancelToken
from .base import JobRun
from .detect import DetectRun
from .generate import GenerateRun
from .regenerate import RegenerateRun
from .retexture import RetextureRun
from .suggest import SuggestRun

log = logging.getLogger(__name__)

Emit = Callable[[Message], None]


@dataclass
class EngineSettings:
    models: ModelSet
    runs_dir: Path
    device: str = "auto"                 # auto, cuda, cuda:N, mps, cpu
    budget_bytes: int | None = None      # device memory for models; None = free minus a reserve
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

    def abandon(self, reason: str) -> None:
        """Close the run's manifest as cancelled when the job cannot finish it in time (exit)."""
        run = self.run_folder
        if run is None or run.manifest.status != "running":
            return
        run.manifest.errors.append({"code": ErrorCode.CANCELLED.value, "message": reason})
        try:
            run.finish("cancelled")
        except ProtocolError as exc:
            log.error("could not close the manifest of job %s: %s", self.id, exc)


class Engine:
    """Runs generate, detect, suggest and re-texture jobs; keeps models between jobs through its manager."""

    def __init__(self, settings: EngineSettings) -> None:
        self.settings = settings
        self.device = pick_device(settings.device)
        self.manager = ModelManager(self.device, budget_bytes=settings.budget_bytes, offline=settings.offline,
                                    policy=settings.policy)
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

    def describe(self) -> dict[str, Any]:
        return {"device": str(self.device), "device_name": device_name(self.device),
                "memory": device_memory(self.device).to_dict(), "models": self.settings.models.describe(),
                "limits": self.limits()}

    def limits(self) -> dict[str, int]:
        """The largest settings one target fits with, beside the models its stage holds."""
        sizes = {role: model["bytes"] for role, model in self.manager.snapshot()["models"].items()}
        paint = sum(sizes[role] for role in PAINT_ROLES if role in sizes) if self.can_paint else None
        return preflight.limits(self.device, sizes.get("shape", 0), paint, guidance=self.classifier_free,
                                memory=self.shape_memory)

    @property
    def clean_paint_weights(self) -> int | None:
        """The licence-clean paint model's weights in the dtype it runs in (float32 on a CPU: twice its
        float16 size), for the job's preflight; None for any other set."""
        if not self.can_paint or not is_clean_paint(self.manager.spec("paint")):
            return None
        spec = self.manager.spec("paint")
        return spec.size_bytes * (2 if getattr(self.device, "type", str(self.device)) == "cpu" else 1)

    @property
    def shape_memory(self) -> preflight.ShapeMemory:
        """How the shape model's memory grows (its family's volume decoding and DiT)."""
        family = shape_kind(self.settings.models.shape).family
        return preflight.HUNYUAN_MEMORY if family == HUNYUAN3D else preflight.STEP1X_MEMORY

    @property
    def classifier_free(self) -> bool:
        """The shape model runs classifier-free guidance (two DiT passes per image): its kind says."""
        return not shape_kind(self.settings.models.shape).embedded_guidance

    def generate(self, request: GenerateRequest, job: Job) -> dict[str, Any]:
        return self._run(GenerateRun, request, job)

    def detect(self, request: DetectRequest, job: Job) -> dict[str, Any]:
        return self._run(DetectRun, request, job)

    def retexture(self, request: RetextureRequest, job: Job) -> dict[str, Any]:
        return self._run(RetextureRun, request, job)

    def suggest(self, request: SuggestRequest, job: Job) -> dict[str, Any]:
        return self._run(SuggestRun, request, job)

    def regenerate(self, request: RegenerateRequest, job: Job) -> dict[str, Any]:
        return self._run(RegenerateRun, request, job)

    def _run(self, kind: type[JobRun], request: Any, job: Job) -> dict[str, Any]:
        # The request is checked before anything is written; the run then always has its folder.
        kind.check_request(request)
        kind.check_models(request, self)
        kind.check_memory(request, self)
        if "shape" in self.manager.roles:
            check_labels(self.manager.spec("shape"), request.options.symmetry, request.options.sharpness)
        # Nothing is downloaded (or written) when a model it needs has a licence nobody accepted.
        # (Offline, nothing is downloaded anyway: a missing model is then model_missing.)
        offline = offline_requested() if self.settings.offline is None else self.settings.offline
        if not offline:
            accepted = self.settings.accepted_licences | set(request.options.accepted_licences)
            refuse_unaccepted([self.manager.spec(role) for role in kind.roles_used(request)
                               if role in self.manager.roles], accepted)
        request.options = seeded(request.options)
        run = kind(self, request, job, kind.make_folder(self, request, job))
        job.run_folder = run.run_folder
        return run.run()


# Drawn seeds stay below 2**31: Blender's integer fields are 32-bit, and the artist who wants the
# result again types the seed the job reports into the panel's Seed.
RANDOM_SEED_LIMIT = 2**31


def seeded(options: JobOptions) -> JobOptions:
    """``options`` with a newly drawn seed when they ask for a random one (``random_seed``);
    the run's manifest and result then record the seed that was used."""
    if not options.random_seed:
        return options
    return replace(options, seed=secrets.randbelow(RANDOM_SEED_LIMIT))


def check_labels(spec: ModelSpec, symmetry: str, sharpness: str) -> None:
    """Refuse a symmetry or sharpness (other than "auto") for a shape model that takes no label."""
    if (symmetry, sharpness) != ("auto", "auto") and not shape_kind(spec).labels:
        labelled = [name for name, spec_ in SHAPE.items() if shape_kind(spec_).labels]
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"symmetry and sharpness need a shape model that takes labels "
                            f"({', '.join(labelled)}); {shape_kind(spec).label} takes none, so leave them at auto")
