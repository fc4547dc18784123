"""A picture made from a prompt that would take an hour or more on its device is refused unaccepted, before its run
folder, in a Generate as in Make Picture (issue 76 item 4: the CPU case, as every long step is refused).

FLUX.2 [klein] 4B's own spec, registered and never loaded, on this CPU: a 2048 x 2048 picture is hours here (the
estimate from the device's speed, ``expected_seconds``: about 2.2 h at the probe's quiet 94 GFLOP/s, more when other
work slows the probe), a 256 x 256 one minutes. The tests pin the probe at that quiet figure: their subject is
the refusal's arithmetic and sentence, and a probe read while other tests load both cores (32 GFLOP/s and less)
once turned the 256 x 256 picture's minutes into more than an hour's quarter.
"""

from __future__ import annotations

import pytest
import torch

from img23d_backend.editors.parts import editor_loader
from img23d_backend.editors.table import DEFAULT_EDITOR, EDITOR_ROWS
from img23d_backend.jobs.kinds.prompt_picture import check_memory, expected_seconds
from img23d_backend.models.manager import ModelManager
from img23d_backend.models import throughput
from img23d_backend.models.preflight import Room
from img23d_protocol import ErrorCode, GenerateRequest, JobOptions, PictureRequest, ProtocolError

PROMPT = "a wooden barrel beside a small house"
QUIET_GFLOPS = 94.0  # the probe's reading on this CPU with nothing else running


@pytest.fixture(autouse=True)
def quiet_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every probe of this module's processes reads the quiet CPU's speed (``throughput.probe`` keeps its first
    measurement per device and dtype: the table it keeps them in is seeded)."""
    for dtype in ("float32", "bfloat16", "float16"):
        monkeypatch.setitem(throughput._measured, ("cpu", dtype), throughput.Throughput("cpu", dtype, QUIET_GFLOPS))


class _Engine:
    def __init__(self) -> None:
        self.manager = ModelManager(torch.device("cpu"), budget_bytes=60 << 30)
        spec = EDITOR_ROWS[DEFAULT_EDITOR].spec
        self.manager.register(spec, editor_loader(spec))

    @staticmethod
    def total_room() -> Room:
        return Room(host=256 << 30)  # room for its weights: only the time is in question


@pytest.mark.parametrize("make", [lambda options: GenerateRequest(id="g", prompt=PROMPT, options=options),
                                  lambda options: PictureRequest(id="p", prompt=PROMPT, options=options)],
                         ids=["generate", "make-picture"])
def test_a_prompts_picture_of_hours_on_this_cpu_is_refused_unaccepted(make) -> None:
    engine = _Engine()
    hours, minutes = expected_seconds(engine.manager, 2048), expected_seconds(engine.manager, 256)
    assert hours >= 1.5 * 3600 and minutes * 4 < 3600, (hours, minutes)
    with pytest.raises(ProtocolError) as refused:  # before: a Generate's picture started, said but not asked
        check_memory(make(JobOptions(edit_size=2048)), engine)
    assert refused.value.code is ErrorCode.LONG_JOB_NOT_ACCEPTED
    assert refused.value.message.startswith("making the picture would take ") and "on this CPU" in refused.value.message
    assert refused.value.message.endswith("or make it smaller (Picture Size, --picture-size)")
    check_memory(make(JobOptions(edit_size=2048, accept_long=True)), engine)
    check_memory(make(JobOptions(edit_size=256)), engine)
    check_memory(GenerateRequest(id="g", image="p.png", options=JobOptions(edit_size=2048)), engine)  # a picture's job: none made


def test_make_pictures_variations_are_weighed_together_a_generates_are_not() -> None:
    """(1.26) Make Picture's variations make that many pictures, so their time is weighed together: a side whose one
    picture is well under the hour here and whose eight are well over it (found from this device's estimate) is
    refused for eight pictures, naming the fewer as a way out; a Generate's variations are candidates from its one."""
    engine = _Engine()
    sides = [side for side in range(256, 2049, 64)
             if 2 * expected_seconds(engine.manager, side) < 3600 < 8 * expected_seconds(engine.manager, side) / 2]
    assert sides, "no side here makes one picture well under an hour and eight well over it"
    options = JobOptions(edit_size=sides[0], variations=8)
    with pytest.raises(ProtocolError) as refused:
        check_memory(PictureRequest(id="p", prompt=PROMPT, options=options), engine)
    assert refused.value.code is ErrorCode.LONG_JOB_NOT_ACCEPTED
    assert refused.value.message.startswith("making 8 pictures would take ")
    assert refused.value.message.endswith("make fewer (Variations, --variations) or smaller (Picture Size, --picture-size)")
    check_memory(GenerateRequest(id="g", prompt=PROMPT, options=options), engine)
    check_memory(PictureRequest(id="p", prompt=PROMPT, options=JobOptions(edit_size=sides[0])), engine)
