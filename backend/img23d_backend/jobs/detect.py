"""Detect: where each named part is in the picture (boxes only, no meshes)."""

from __future__ import annotations

from img23d_protocol import DetectJobResult, Error, ErrorCode, ProtocolError

from .base import JobRun, Request, scaled_box


class DetectRun(JobRun):
    kind = "detect"

    @classmethod
    def check_request(cls, request: Request) -> None:
        super().check_request(request)
        if not request.targets:
            raise ProtocolError(ErrorCode.BAD_REQUEST, "detect needs at least one name")

    def body(self) -> DetectJobResult:
        image = self.load_input()
        matches = self.ground(image)
        found = {m.target: [scaled_box(d.box, image.scale) for d in m.detections] for m in matches}
        for match in matches:
            if not match.detections:
                self.job.emit(Error(id=self.job.id, code=ErrorCode.TARGET_NOT_FOUND.value,
                                    message=f"{match.target!r} was not found in the image", target=match.target))
        # cut_off: the answer reached its token budget, so a name reported not found may be past the cut.
        return DetectJobResult(run_dir=str(self.run_folder.root), image_size=list(image.original_size), boxes=found,
                               not_found=[m.target for m in matches if not m.detections], answer=self.answer(),
                               seed=self.options.seed)
