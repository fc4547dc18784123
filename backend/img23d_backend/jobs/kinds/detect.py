"""Detect: where each named part is in the picture (boxes only, no meshes).

With ``complete_hidden`` other than never, Detect also shows what completion would do, so the artist
can turn it off per name (Boxes' Complete) before Generate: each found target is cropped and matted
as a Generate would (``cutting``), judged and completed (``completing``), and ``completion.png``
shows each cut-out beside its completed one with the reason (``jobs.steps.completion.sheet``). The run
keeps ``crops/``, ``mattes/`` and ``completed/``, and its manifest one record per target.
"""

from __future__ import annotations


from img23d_protocol import (COMPLETION_PICTURE, Artifact, ArtifactKind, Completion, DetectJobResult, DetectRequest,
                             Error, ErrorCode, ProtocolError, seed_at)

from ...readers.images import LoadedImage
from ...runs.folders import TargetRecord
from ..steps.completion import sheet
from ..steps import completing, cutting
from ..base import JobRun, check_names_apart


class DetectRun(JobRun[DetectRequest]):
    kind = "detect"

    @classmethod
    def check_request(cls, request: DetectRequest) -> None:
        super().check_request(request)
        if not request.targets:
            raise ProtocolError(ErrorCode.BAD_REQUEST, "detect needs at least one name")
        check_names_apart(request.targets)

    @classmethod
    def roles_used(cls, request: DetectRequest) -> tuple[str, ...]:
        # Matting and the editor only when Detect previews completion.
        previewing = request.options.complete_hidden != "never"
        return ("grounding",) + (("matting",) + completing.roles(request.options) if previewing else ())

    def body(self) -> DetectJobResult:
        image = self.load_input()
        matches = self.ground(image)
        found = {m.target: [image.to_original(d.box) for d in m.detections] for m in matches}
        for match in matches:
            if not match.detections:
                self.job.emit(Error(id=self.job.id, code=ErrorCode.TARGET_NOT_FOUND.value,
                                    message=f"{match.target!r} was not found in the image", target=match.target))
        completion: dict[str, list[Completion]] = {}
        picture = None
        if self.options.complete_hidden != "never" and any(found.values()):
            completion, picture = self._preview_completion(image, found)
        # cut_off: the answer reached its token budget, so a name reported not found may be past the cut.
        return DetectJobResult(run_dir=str(self.run_folder.root), image_size=list(image.original_size), boxes=found,
                               not_found=[m.target for m in matches if not m.detections], answer=self.answer(),
                               seed=self.options.seed, completion=completion, completion_picture=picture)

    def _preview_completion(self, image: LoadedImage,
                            found: dict[str, list[list[float]]]) -> tuple[dict[str, list[Completion]], str]:
        """Each found target cropped, matted, judged and completed as a Generate would; the picture
        that shows it. Returns each name's completions (in the order of its boxes) and the picture."""
        records = self._plan(found)
        self.run_folder.manifest.records = records
        self.run_folder.save_manifest()
        live = [r for r in records if r.status == "pending"]
        cuts = cutting.crop_targets(self, image, live)
        cutting.matte_targets(self, image, live, cuts)
        seen = {r.stem: cuts[r.stem].cutout for r in live}  # before completion replaces a cut-out
        completing.complete_hidden(self, image, live, cuts)
        rows = []
        for record in live:
            if record.status == "pending":
                record.status = "done"  # what Detect does for it is done (no mesh: Import Run skips it)
            if record.completion is None:  # its matting failed (its error said so): nothing to show
                record.completion = Completion(completed=False, reason=f"not judged: {record.error['message']}")
                continue
            label = record.target if len(found[record.target]) == 1 else f"{record.target} {record.instance}"
            completed = cuts[record.stem].cutout if record.completion.cutout else None
            rows.append(sheet.Row(label, record.completion.skipped or record.completion.reason,
                                  seen[record.stem], completed))
        path = self.run_folder.write_image(COMPLETION_PICTURE, sheet.draw(rows))
        self.run_folder.save_manifest()
        self.job.emit(Artifact(job=self.job.id, kind=ArtifactKind.COMPLETION, path=str(path)))
        by_name: dict[str, list[Completion]] = {}
        for record in live:  # one per box, in the order of its name's boxes
            by_name.setdefault(record.target, []).append(record.completion)
        return by_name, str(path)

    def _plan(self, found: dict[str, list[list[float]]]) -> list[TargetRecord]:
        """One record per box, seeded as a Generate of the same names would seed it (one candidate each)."""
        records = []
        for name in self.request.targets:
            boxes = found.get(name) or [None]
            for instance, box in enumerate(boxes, start=1):
                record = TargetRecord(target=name, instance=instance, stem=self.run_folder.unique_stem(name, instance),
                                      box=box, seed=seed_at(self.options.seed, len(records)))
                if box is None:
                    record.status = "failed"
                    record.error = {"code": ErrorCode.TARGET_NOT_FOUND.value,
                                    "message": f"{name!r} was not found in the image"}
                records.append(record)
        return records
