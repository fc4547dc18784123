"""The suggest job: which distinct objects the picture shows, as names for the artist and boxes.

One grounding pass (the grounding model's ``name_objects``); its boxes are grouped into names
(``grounding.suggestions``). The run folder keeps what Detect keeps (``detections.json``,
``detections.png``), so the boxes can be shown the same way.
"""

from __future__ import annotations

from img23d_protocol import Artifact, ArtifactKind, ErrorCode, ProtocolError, SuggestJobResult, SuggestRequest

from ...grounding.driver import GroundingOptions, TargetMatch, draw_matches, name_objects
from ...grounding.suggestions import suggest_names
from ..base import JobRun


class SuggestRun(JobRun[SuggestRequest]):
    kind = "suggest"

    def body(self) -> SuggestJobResult:
        image = self.load_input()
        options = GroundingOptions.from_spec(self.manager.spec("grounding").options)
        with self.stage("grounding"):
            with self.manager.use("grounding") as grounder:
                answer = name_objects(grounder, image.image, options=options, cancel=self.job.cancel,
                                      progress=self.progress)
            width, height = image.size
            suggestions = suggest_names(answer.detections)
            matches = [TargetMatch(target=s.name, detections=s.detections) for s in suggestions]
            self.run_folder.manifest.targets = [s.name for s in suggestions]
            self.run_folder.write_json("detections.json", {
                "image_size": [width, height], "original_size": list(image.original_size),
                "coords": "pixels of image_size", "raw_answer": answer.text, "prompt": answer.question,
                "matches": {m.target: [d.to_dict() for d in m.detections] for m in matches},
            })
            overlay = self.run_folder.write_image("detections.png", draw_matches(image.image, matches))
        self.job.emit(Artifact(job=self.job.id, kind=ArtifactKind.DETECTIONS, path=str(self.run_folder.path("detections.json"))))
        self.job.emit(Artifact(job=self.job.id, kind=ArtifactKind.OVERLAY, path=str(overlay)))
        if not suggestions:
            raise ProtocolError(ErrorCode.TARGET_NOT_FOUND, "the grounding model named no object in the picture")
        return SuggestJobResult(
            run_dir=str(self.run_folder.root), image_size=list(image.original_size),
            names=[s.name for s in suggestions],
            boxes={s.name: [image.to_original(d.box) for d in s.detections] for s in suggestions},
            # Duplicates come back as one name: several boxes for it ask for every instance.
            all_instances=any(len(s.detections) > 1 for s in suggestions), seed=self.options.seed)
