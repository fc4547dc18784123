"""What a Generate costs, in the add-on (issue 54, items 10 and 11; issue 99: the backend's own whole estimate,
protocol 1.29): the panel shows the material step's time beside PBR materials when the backend runs on a CPU, and a
Generate the backend estimates at an hour or more shows that estimate and is refused until Accept Long Job is ticked,
in the sentence the backend itself refuses it with. The real backend with the tiny models; ``throughput:slow`` makes
its device a million times slower."""

from __future__ import annotations

import re
import time

import pytest

bpy = pytest.importorskip("bpy")

import img23d_protocol as protocol  # noqa: E402
from blender_support import StandInLayout, backend_set_aside  # noqa: E402
from testdata import HOUSE  # noqa: E402

ANSWER_TIMEOUT = 60.0  # how long the backend may take to answer an estimate or refuse a job (2-core CI, under load)


def _drawn(addon) -> list[tuple]:
    log: list[tuple] = []
    addon.panels.main.IMG23D_PT_main.draw(type("StandInPanel", (), {"layout": StandInLayout(log)})(), bpy.context)
    return log


def _labels(log: list[tuple]) -> list[str]:
    return [kwargs.get("text", "") for name, args, kwargs in log if name == "label"]


def _props(log: list[tuple]) -> list[str]:
    return [args[1] for name, args, kwargs in log if name == "prop"]


def _ready(addon):
    session = addon.runtime.session()
    session.start()
    session.wait_ready()
    return session


def _drawn_with_estimate(addon, session) -> list[tuple]:
    """The panel drawn once the backend has answered the estimate its first drawing asked for (the add-on's idle
    drain reads it and draws again; here, pumped by hand)."""
    _drawn(addon)
    deadline = time.monotonic() + ANSWER_TIMEOUT
    while not (addon.job_costs._last is not None and addon.job_costs._last.answered):
        assert time.monotonic() < deadline, "the backend never answered the panel's estimate request"
        session.pump()
        addon.job_costs.estimate_arrived(session)
        time.sleep(0.05)
    return _drawn(addon)


def _refused_by_the_backend(session, request: "protocol.GenerateRequest") -> str:
    """The backend's own answer to ``request`` sent as it is, past the add-on's check: its refusal's sentence."""
    job = session.submit(request)
    session.await_reply(job)
    deadline = time.monotonic() + ANSWER_TIMEOUT
    while (reply := session.take_reply(job)) is None:
        assert time.monotonic() < deadline, "the backend never answered the job"
        session.pump()
        time.sleep(0.05)
    assert isinstance(reply, protocol.Error) and reply.code == "long_job_not_accepted", reply
    return reply.message


def test_a_fast_device_shows_the_material_step_on_a_cpu_and_asks_nothing(addon, scene, fresh_backend) -> None:
    settings = scene.img23d
    settings.texture = True
    assert not any(label.startswith("Materials:") for label in _labels(_drawn(addon)))  # no backend: nothing said
    session = _ready(addon)
    costs = addon.job_costs.costs_of(session.current_hello())
    assert costs is not None and costs.on_cpu  # the tests' backend runs on this CPU
    log = _drawn_with_estimate(addon, session)
    note = [label for label in _labels(log) if label.startswith("Materials:")]
    assert note and note[0].endswith(f"per object on {costs.device}")
    # Beside the toggle: right after PBR materials, before Complete Hidden.
    order = [args[1] if name == "prop" else kwargs.get("text") for name, args, kwargs in log
             if name in ("prop", "label")]
    assert order.index("materials") + 1 == order.index(note[0]) < order.index("complete_hidden")
    assert "accept_long" not in _props(log)
    estimate = addon.job_costs._last.estimate   # the backend's, for the panel's Generate: minutes, not hours
    assert estimate is not None and not estimate.long and estimate.device == costs.device
    assert [stage.stage for stage in estimate.stages][:2] == ["grounding", "matting"]
    settings.materials = False
    assert not any(label.startswith("Materials:") for label in _labels(_drawn(addon)))
    settings.materials = True
    settings.complete_hidden = "always"
    _drawn_with_estimate(addon, session)
    request = addon.operators._inputs.estimate_request(bpy.context)   # the panel's Generate, as the operator's
    assert addon.job_costs.whole_estimate(session, request, ask=False) is not None   # its estimate has come
    addon.operators._inputs.check_cost(bpy.context, session, request)  # and passes without a word


@pytest.fixture(scope="module")
def slow_backend(addon):
    """A backend on a device a million times slower, for the two tests that ask it (one start, not one each),
    started as ``fresh_backend`` starts one; stopped after them, and the failpoint gone with it."""
    with backend_set_aside(addon), pytest.MonkeyPatch.context() as patch:
        patch.setenv("IMG23D_FAILPOINTS", "throughput:slow")
        yield _ready(addon)


def _slow_barrel_job(scene, slow_backend):
    """A Generate of one barrel on the slow backend (every stage of it hours there); its session, ready."""
    settings = scene.img23d
    settings.targets = "barrel"
    settings.complete_hidden = "never"
    return slow_backend


@pytest.mark.smoke  # also run on Blender 4.2 LTS (scripts/test.sh)
def test_a_slow_device_shows_the_estimate_and_generate_waits_for_accept_long_job(addon, scene, slow_backend) -> None:
    """The panel shows the backend's whole estimate, its total and its largest stages (completion and materials
    are off: the rest alone takes hours on the slow device, which the hello's costs never said), and Generate
    refuses the job in the very sentence the backend refuses it with when it is sent past the add-on's check."""
    settings = scene.img23d
    session = _slow_barrel_job(scene, slow_backend)
    log = _drawn_with_estimate(addon, session)
    labels = _labels(log)
    assert "This job would take hours:" in labels and "accept_long" in _props(log)
    total, largest = labels[labels.index("This job would take hours:") + 1:][:2]
    assert total.startswith("About ") and " h on this CPU (" in total
    assert re.fullmatch(r"[a-z -]+ about [0-9.]+ h", largest)
    with pytest.raises(RuntimeError) as refused:   # the panel's estimate has come: refused before it is sent
        bpy.ops.img23d.generate()
    assert "barrel" not in bpy.data.objects
    said = _refused_by_the_backend(session, protocol.GenerateRequest(
        image=str(HOUSE), targets=["barrel"], options=addon.operators._inputs.options(bpy.context)))
    assert said.startswith("this job would take hours: about ") and "tick Accept Long Job" in said
    assert said[0].upper() + said[1:] in str(refused.value)   # the add-on's sentence is the backend's
    addon.job_costs._last = None   # as a script's Generate, or a click before the estimate came: nothing waits
    with pytest.raises(RuntimeError) as sent:
        bpy.ops.img23d.generate()
    assert said in str(sent.value) and "barrel" not in bpy.data.objects   # the backend refused it, in its words
    settings.targets = ", ,"  # a mistake in the inputs is said first, not after the cost was accepted
    with pytest.raises(RuntimeError, match=r"holds only commas and spaces, no name"):
        bpy.ops.img23d.generate()


# Not a smoke test: the job it runs (the tiny models') is the backend's, the same on every Blender; the panel
# and the refusal above are what differ between Blender versions.
def test_accept_long_job_starts_the_job_the_slow_device_estimated_at_hours(addon, scene, slow_backend) -> None:
    session = _slow_barrel_job(scene, slow_backend)
    scene.img23d.accept_long = True
    assert scene.img23d.job_options().accept_long
    assert bpy.ops.img23d.generate() == {"FINISHED"}  # accepted: the backend runs it
    assert "barrel" in bpy.data.objects and session.state.value == "ready"
