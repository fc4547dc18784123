"""The suggest job: which distinct objects the picture shows, as names for the artist and boxes.

One grounding pass with ``stages.suggestions.SUGGEST_PROMPT``; the answer is parsed like any
grounding answer and grouped into names. The run folder keeps what Detect keeps
(``detections.json``, ``detections.png``), so the boxes can be shown the same way.
"""

from __future__ import annotations

from img23d_protocol import Artifact, ArtifactKind, ErrorCode, ProtocolError, SuggestJobResult, SuggestRequest

from ...grounding.driver import GroundingOptions, draw_matches, ground
from ...grounding.detections import parse_detections
from ...grounding.matching import TargetMatch
from ...grounding.suggestions import SUGGEST_PROMPT, suggest_names
from ..base import JobRun


class SuggestRun(JobRun[SuggestRequest]):
    kind = "suggest"

    def body(self) -> SuggestJobResult:
        image = self.load_input()
        options = GroundingOptions.from_spec(self.manager.spec("grounding").options)
        with self.stage("grounding"):
            with self.manager.use("grounding") as grounder:
                raw = ground(grounder, image.image, [], options=options, prompt=SUGGEST_PROMPT,
                             cancel=self.job.cancel, progress=self.progress).text
            width, height = image.size
            suggestions = suggest_names(parse_detections(raw, width, height))
            matches = [TargetMatch(target=s.name, detections=s.detections) for s in suggestions]
            self.run_folder.manifest.targets = [s.name for s in suggestions]
            self.run_folder.write_json("detections.json", {
                "image_size": [width, height], "original_size": list(image.original_size),
                "coords": "pixels of image_size", "raw_answer": raw, "prompt": SUGGEST_PROMPT,
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
