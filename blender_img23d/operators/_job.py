"""What every job operator shares: it waits as every operator does (``_wait``: modal from a
button, to the end from a script or in background mode), one undo step, reports instead of
exceptions, and one job at a time (``runtime.active_runner``)."""

from __future__ import annotations

from typing import Any

import bpy
import img23d_protocol as protocol
from img23d_client.waiting import Wait

from .. import runtime
from ..job_runner import JobRunner, Outcome
from ._inputs import InputError
from ._wait import WaitingOperator


class JobOperatorMixin(WaitingOperator):
    """Subclasses implement ``make_runner(context)`` and ``finish(context, outcome)``."""

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        """A job reads the scene's img23d settings (a subclass that needs more says so in its own poll)."""
        return context.scene is not None and hasattr(context.scene, "img23d")

    def make_runner(self, context: bpy.types.Context) -> JobRunner:
        raise NotImplementedError

    def finish(self, context: bpy.types.Context, outcome: Outcome) -> set[str]:
        raise NotImplementedError

    def begin_wait(self, context: bpy.types.Context) -> JobRunner | None:
        if refused := runtime.refused_while_installing():
            self.report({"ERROR"}, refused)
            return None
        if runtime.active_runner is not None and not runtime.active_runner.finished:
            self.report({"ERROR"}, "A job is already running: wait for it or press Cancel")
            return None
        try:
            runner = self.make_runner(context)
        except InputError as exc:
            self.report({"ERROR"}, str(exc))
            return None
        except protocol.ProtocolError as exc:
            self.report({"ERROR"}, exc.message)
            return None
        runtime.active_runner = runner
        return runner

    def end_wait(self, context: bpy.types.Context, wait: Wait) -> set[str]:
        assert isinstance(wait, JobRunner)
        return self.finish(context, wait.outcome)

    def wait_released(self, wait: Wait) -> None:
        if runtime.active_runner is wait:
            runtime.active_runner = None

    def abandoned(self) -> bool:
        # runtime.shutdown() (the add-on disabled, Blender quitting) forgets the job it cancelled.
        return runtime.active_runner is not self._wait

    def report_outcome(self, outcome: Outcome, made_something: bool, note: str = "") -> set[str]:
        """Report how the job ended; ``note`` (if any) follows the summary of a job that finished."""
        cut_off = answer_cut_off_note(outcome.result)
        if cut_off:
            self.report({"WARNING"}, cut_off)
        for skipped in skipped_stage_notes(outcome.result):
            self.report({"WARNING"}, skipped)
        for warning in dict.fromkeys(outcome.notes + views_left_out_notes(outcome.result)
                                     + finish_fallback_notes(outcome.result)
                                     + completion_notes(outcome.result)):  # each said once (not as ``note``)
            self.report({"WARNING"}, warning)
        if outcome.failed_targets:
            self.report({"WARNING"}, "Some names failed: " + "; ".join(outcome.failed_targets))
        if outcome.cancelled:
            self.report({"WARNING"}, "Cancelled" + (f"; kept {len(outcome.objects)} object(s)"
                                                   if outcome.objects else ""))
        elif outcome.error:
            self.report({"ERROR"}, outcome.error)
        else:
            self.report({"INFO"}, outcome.summary() + (f" | {note}" if note else ""))
        return {"FINISHED"} if made_something else {"CANCELLED"}


def answer_cut_off_note(result: protocol.JobResult | None) -> str:
    """One sentence when the grounding model's answer reached its token budget (a Generate or
    Detect result's ``answer.cut_off``), else an empty string: the names it had not reached may be missing."""
    answer = getattr(result, "answer", None)
    if not isinstance(answer, protocol.AnswerSummary) or not answer.cut_off:
        return ""
    return (f"The grounding model's answer was cut off at {answer.answer_tokens} tokens: "
            "names after the cut may be missing")


def skipped_stage_notes(result: protocol.JobResult | None) -> list[str]:
    """The backend's one sentence for each stage the job went on without (a result's
    ``texture_skipped``: untextured meshes; ``depth_skipped``: objects placed by their boxes;
    ``materials_skipped``: colour textures without material maps; ``views_shape_skipped``: a shape
    made from the front picture alone although views were given), each a capitalised sentence."""
    notes = [getattr(result, name, None)
             for name in ("texture_skipped", "depth_skipped", "materials_skipped", "views_shape_skipped")]
    return [note[:1].upper() + note[1:] for note in notes if isinstance(note, str) and note]


def views_left_out_notes(result: protocol.JobResult | None) -> list[str]:
    """The backend's one sentence for each view of a name it could not use (each target's
    ``views_left_out``), each once although every instance of the name carries it, capitalised."""
    notes: list[str] = []
    for target in getattr(result, "targets", ()):
        if isinstance(target, protocol.TargetResult) and target.views_left_out:
            notes.extend(note for note in target.views_left_out.values() if isinstance(note, str) and note)
    return [note[:1].upper() + note[1:] for note in dict.fromkeys(notes)]


def finish_fallback_notes(result: protocol.JobResult | dict[str, Any] | None) -> list[str]:
    """The backend's fallback sentences from its objects' finishing (each target's
    ``finish.fallback``, e.g. quads that fell back to triangles), each once, capitalised. A result's
    raw data (a dict) is read as data from another process: anything but a non-empty string is skipped."""
    targets = result.get("targets") if isinstance(result, dict) else getattr(result, "targets", ())
    notes: list[str] = []
    for record in targets if isinstance(targets, (list, tuple)) else ():
        if isinstance(record, dict):
            try:
                record = protocol.TargetRecord.from_dict(record)
            except protocol.ProtocolError:
                continue  # a record this add-on cannot read says nothing it could show
        fallback = record.fallback if isinstance(record, protocol.TargetRecord) else None
        if fallback:
            notes.append(fallback[:1].upper() + fallback[1:])
    return list(dict.fromkeys(notes))


def completion_notes(result: protocol.JobResult | None) -> list[str]:
    """Complete Hidden's one sentence for each object it could not complete (kept as the picture shows
    it), capitalised."""
    notes = [target.completion.skipped for target in getattr(result, "targets", ())
             if isinstance(target, protocol.TargetResult) and target.completion and target.completion.skipped]
    return [note[:1].upper() + note[1:] for note in notes]
