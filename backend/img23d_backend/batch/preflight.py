"""What a batch refuses before it starts (issue 88): its options as every job checks them, and an option that
every line, or every line of a kind, would fail on, each one sentence.

These were each line's to refuse: ``batch --edit-size 300`` with a list of prompts started its workers, loaded
their models and failed every prompt's line alone with the same sentence ("a picture of 300 x 300 pixels cannot
be made ..."), and ``--symmetry x`` for a shape model without labels did the same for every picture. What
depends on the options and the models alone is now said once, before the record, the lock or a worker: the
options' ranges (``JobOptions.validate``: a fraction for a whole number from the Python API), a label for a
shape model that takes none, a memory cap out of range (``--memory-cap-gb``, which every worker's engine refused),
and for a list's prompt lines the picture's side and an image editor that makes no pictures. What depends on a
line (its names, its picture, a prompt that is not one) stays that line's.
"""

from __future__ import annotations

from typing import Sequence

from img23d_protocol import ErrorCode, JobOptions, ProtocolError

from ..catalog import Models, check_labels, model_set
from ..editors.text_prompt import check_maker, check_side
from ..models.memory_cap import check_cap_gb
from .inputs import BatchItem


def check_before_start(items: Sequence[BatchItem], options: JobOptions, models: Models) -> None:
    """``bad_request`` in one sentence for what every line (or every prompt's line) of ``items`` would fail on
    under ``options`` and ``models``; nothing when each line may run."""
    options.validate()
    # Each worker's engine refused a cap out of range (``session.make_engine``), so every line failed alone in its
    # worker, with advice to run the same command again.
    check_cap_gb(models.memory_cap_gb)
    chosen = model_set(models.models, grounding=models.grounding, matting=models.matting, shape=models.shape,
                       paint=models.paint, family=models.family, editor=models.editor)
    check_labels(chosen.shape, options.symmetry, options.sharpness)
    prompts = [item for item in items if item.prompt and not item.problem]
    if not prompts:
        return
    more = f" and {len(prompts) - 1:,} more" if len(prompts) > 1 else ""
    every = f"every prompt's line ({prompts[0].where}{more}) would fail on it, so the batch did not start"
    try:
        check_side(options.edit_size)
    except ProtocolError as exc:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{exc.message} (a prompt's picture is made at the edit size, "
                                                   f"--edit-size); {every}") from exc
    try:
        check_maker(chosen.spec("editor"))
    except ProtocolError as exc:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{exc.message}; {every}") from exc
