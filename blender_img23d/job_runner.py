"""One job seen from Blender's main thread: events in, objects into the scene, an outcome out.

A ``JobRunner`` is a ``client.waiting.Wait``: ``step()`` does a bounded amount of work and
returns, and the job operators wait on it as every operator waits on the backend
(``operators/_wait.py``). Each target's GLB is imported as soon as its ``artifact`` arrives, so
objects appear while later ones are still being made. With a metric depth map the backend fits each
mesh to its own points after the layout was announced (``layout/surface_fit.py``, kept in the manifest):
when the job ends, each object it stood stands again where the finished manifest says, as Re-layout and
Import Run would stand it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bpy
import img23d_protocol as protocol
from img23d_client import run_layout, texture_guard
from img23d_client.progress_line import ProgressLine
from img23d_client.session import BackendSession

from . import finished_objects, held, part_objects, scene_import


@dataclass
class Outcome:
    finished: bool = False
    cancelled: bool = False
    error: str = ""                       # the job's own failure, if it failed
    error_code: str = ""
    made: list[held.Held] = field(default_factory=list)   # the objects it made, for what the job does with them after
    failed_targets: list[str] = field(default_factory=list)   # "name: why"
    run_dir: str = ""
    result: protocol.JobResult | None = None  # the job's result, read and checked (``protocol.results``)
    notes: list[str] = field(default_factory=list)   # one sentence each, said once (e.g. quads left as triangles)
    # A retopo job's artifacts, and a picture made from a prompt: its caller places them
    files: dict[protocol.ArtifactKind, str] = field(default_factory=dict)
    meshes: list[tuple[str, str]] = field(default_factory=list)  # a parts job's: (part name, GLB), its caller places them

    @property
    def objects(self) -> list[str]:
        """The objects' names as they were made, for the report."""
        return [one.name for one in self.made]

    @property
    def ok(self) -> bool:
        return self.finished and not self.error and not self.cancelled

    def summary(self) -> str:
        parts = []
        if self.objects:
            parts.append(f"{len(self.objects)} object(s): {', '.join(self.objects)}")
        if self.failed_targets:
            parts.append("failed: " + "; ".join(self.failed_targets))
        if self.cancelled:
            parts.append("cancelled")
        elif self.error:
            parts.append(self.error)
        return " | ".join(parts) or "nothing came back"


class JobRunner:
    """Drives one generate or detect job from submission to its outcome."""

    def __init__(self, session: BackendSession, scene: bpy.types.Scene, request: Any, image_name: str) -> None:
        self.session = session
        self.scene = held.hold(scene)
        self.request = request
        self.kind = request.TYPE
        self.image_name = image_name
        self.outcome = Outcome()
        self.collection: bpy.types.Collection | None = None
        self.import_seconds = 0.0   # main-thread time spent in the glTF importer
        self.detections_path: Path | None = None
        self.layout: Any = None          # the run's layout (layout.SceneLayout), once announced
        self.layout_manifest: Path | None = None  # the manifest it was read from, read again when the job ends
        self.stood: dict[str, held.Held] = {}    # the objects stood where the layout says, by stem (no candidate)
        self.first_stems: dict[tuple[str, int], str] = {}  # (target, instance) -> its place's stem
        self.high_meshes: dict[str, Path] = {}  # a finished object's generated mesh, by its stem, until its low one
        self.budget = texture_guard.RunBudget()  # the bytes of images every file this job brings in may hold
        self.left_out: list[str] = []            # names past the budget: one sentence in the notes names them
        self.line = ProgressLine()   # the status line: a stage's estimate stays readable until the next stage
        # A retopo job's mesh takes the place of the artist's object, a parts job's meshes go under an
        # Empty where it stood: the operator does that.
        self.places_meshes = request.TYPE not in (protocol.RetopoRequest.TYPE, protocol.PartsRequest.TYPE)
        self.job_id = session.submit(request)

    @property
    def finished(self) -> bool:
        return self.outcome.finished

    @property
    def status(self) -> str:
        if not self.line.stage and not self.line.latest:
            return f"img23d: the {self.kind} job is starting"
        return f"img23d {self.kind}: {self.line.text}"

    @property
    def headline(self) -> tuple[str, str]:
        """The stage and its estimate: background mode prints a line each time they change (``StatusPrinter``)."""
        return self.line.headline

    @property
    def fraction(self) -> float:
        progress = self.session.progress
        return progress.step / progress.total if progress is not None and progress.total else 0.0

    def step(self, budget_seconds: float = 0.015) -> None:
        """Handle what arrived; stop early when the time budget (main-thread seconds) is used."""
        started = time.perf_counter()
        while not self.finished and time.perf_counter() - started < budget_seconds:
            messages = self.session.pump(max_messages=50)
            if not messages:
                break
            for message in messages:
                self._handle(message)

    def cancel(self) -> None:
        """Ask the backend to stop; the job finishes (cancelled) when its answer arrives."""
        self.session.cancel()

    # -- events ------------------------------------------------------------------------------

    def _handle(self, message: Any) -> None:
        if isinstance(message, protocol.Progress) and message.job == self.job_id:
            self.line.add(message)
        elif isinstance(message, protocol.Artifact) and message.job == self.job_id:
            self._on_artifact(message)
        elif isinstance(message, protocol.Error) and message.id == self.job_id:
            if message.target:
                self.outcome.failed_targets.append(f"{message.target}: {message.message}")
            else:
                self.outcome.finished = True
                self.outcome.cancelled = message.code == protocol.ErrorCode.CANCELLED.value
                self.outcome.error, self.outcome.error_code = message.message, message.code
        elif isinstance(message, protocol.Result) and message.id == self.job_id:
            self.outcome.finished = True
            try:
                self.outcome.result = protocol.JOB_RESULTS[self.kind].from_dict(message.data)
            except protocol.ProtocolError as exc:  # it came from another process: never used unchecked
                self.outcome.error = f"the backend's result could not be read: {exc.message}"
                self.outcome.error_code = exc.code.value
            self._stand_fitted()

    def _on_artifact(self, artifact: Any) -> None:
        kind = protocol.ArtifactKind
        if artifact.kind == kind.RUN:
            self.outcome.run_dir = artifact.path
        elif artifact.kind == kind.DETECTIONS:
            self.detections_path = Path(artifact.path)
        elif artifact.kind == kind.PICTURE:  # (1.25) the picture made from the prompt: the operator loads it
            self.outcome.files.setdefault(kind.PICTURE, artifact.path)   # the first of Make Picture's variations
        elif artifact.kind == kind.LAYOUT:
            self._read_layout(Path(artifact.path))
        elif not self.places_meshes and artifact.kind in (kind.MESH, kind.HIGH_MESH):
            self.outcome.files[kind(artifact.kind)] = artifact.path
            if artifact.kind == kind.MESH:
                # The part's name names an object: text from another process, else the file's stem.
                target = artifact.target if isinstance(artifact.target, str) and artifact.target.strip() else None
                self.outcome.meshes.append((target or Path(artifact.path).stem, artifact.path))
        elif artifact.kind == kind.HIGH_MESH:  # announced before its low mesh (docs/game-ready.md)
            self.high_meshes[Path(artifact.path).stem] = Path(artifact.path)
        elif artifact.kind == kind.MESH:
            self._import_mesh(artifact)

    def _read_layout(self, manifest_path: Path) -> None:
        """Solve the run's layout as the backend did, with the job's own layout options."""
        try:
            manifest = run_layout.read_manifest(manifest_path)
        except run_layout.NotARun as exc:  # the meshes still arrive, each laid out by its box
            self.outcome.failed_targets.append(f"layout: {exc}")
            return
        self.layout = run_layout.solve_run(manifest, run_layout.LayoutChoice.from_options(self.request.options))
        self.layout_manifest = manifest_path
        self.first_stems = run_layout.stems_by_target(manifest)

    def _stand_fitted(self) -> None:
        """Each object this job stood, where the finished manifest stands it: the meshes' fit to their own points
        came after the layout was announced. An object whose anchor did not change, or that is gone, stays."""
        if self.layout is None or self.layout_manifest is None or not self.stood:
            return
        try:
            manifest = run_layout.read_manifest(self.layout_manifest)
        except run_layout.NotARun:  # the run folder changed under the job: the objects stay where they arrived
            return
        final = run_layout.solve_run(manifest, run_layout.LayoutChoice.from_options(self.request.options))
        scene = held.held_scene(self.scene)
        for key, kept in self.stood.items():
            obj = held.held_object(kept)
            if obj is None or key not in final.anchors or final.anchors[key] == self.layout.anchors.get(key):
                continue
            scene_import.place(obj, final, key)
            finished_objects.follow(obj)   # a finished object's high mesh moves with it, its parts too
            if scene is not None:
                part_objects.follow_whole(scene, obj)
        self.layout = final

    def _import_mesh(self, artifact: Any) -> None:
        started = time.perf_counter()
        try:
            self._place_mesh(artifact)
        finally:
            self.import_seconds += time.perf_counter() - started

    def _place_mesh(self, artifact: Any) -> None:
        scene = held.held_scene(self.scene)
        if scene is None:  # the scene was deleted mid-job: the files stay in the run folder
            self.outcome.failed_targets.append(f"{artifact.target}: its scene is gone; see {artifact.path}")
            return
        key = Path(artifact.path).stem  # the backend names each mesh <stem>.glb
        # A candidate of a job with variations (a number from the backend: checked, not trusted).
        variation = artifact.variation if isinstance(artifact.variation, int) and 0 < artifact.variation <= 8 else 0
        item = scene_import.TargetFile(path=Path(artifact.path), target=artifact.target or "img23d",
                                       instance=artifact.instance, box=artifact.box, image_size=artifact.image_size,
                                       seed=artifact.seed, run_dir=self.outcome.run_dir, models=self._model_ids(),
                                       key=key, variation=variation,
                                       anchor=self.first_stems.get((artifact.target or "", artifact.instance), key))
        try:
            obj = scene_import.add_target(lambda: self._collection(scene), item, self.layout, self.outcome.notes,
                                          self.budget)
        except scene_import.OverBudget:
            self.leave_out(artifact.target or key)
            return
        except scene_import.ImportFailed as exc:
            self.outcome.failed_targets.append(f"{artifact.target}: {exc}")
            return
        self.outcome.made.append(held.hold(obj))
        if not variation and self.layout is not None and key in self.layout.anchors:
            self.stood[key] = held.hold(obj)
        high = self.high_meshes.pop(key, None)
        if high is not None:
            try:
                finished_objects.add_high_mesh(obj, high, self.budget)
            except scene_import.OverBudget:
                self.leave_out(f"{obj.name} (high)")
            except scene_import.ImportFailed as exc:  # the low object stands; only re-baking lacks its source
                self.outcome.failed_targets.append(f"{obj.name} (high): {exc}")
        if self.layout is not None and self.collection is not None:
            scene_import.ensure_camera(scene, self.collection, self.layout.camera, self.outcome.run_dir,
                                       f"{self.image_name} camera")

    def leave_out(self, name: str) -> None:
        """``name`` did not fit the job's budget of image bytes: the one sentence naming all of them
        (in the notes, said when the job ends) names it too."""
        if self.left_out:
            self.outcome.notes.remove(self.budget.left_out(self.left_out))
        self.left_out.append(name)
        self.outcome.notes.append(self.budget.left_out(self.left_out))

    def _collection(self, scene: bpy.types.Scene) -> bpy.types.Collection:
        self.collection = scene_import.run_collection(scene, self.image_name, self.collection)
        return self.collection

    def _model_ids(self) -> dict[str, str]:
        hello = self.session.hello  # known by now: meshes only come after the handshake
        return dict(hello.models) if hello is not None else {}
