"""What the slow optional steps cost, in the add-on (issue 54, items 10 and 11): the panel shows the
material step's time beside PBR materials when the backend runs on a CPU, and a Generate the backend's
hello estimates at hours shows that estimate and is refused until Accept Long Job is ticked. The real
backend with the tiny models; ``throughput:slow`` makes its device a million times slower."""

from __future__ import annotations

import pytest

bpy = pytest.importorskip("bpy")

from blender_support import StandInLayout, backend_set_aside  # noqa: E402


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


def test_a_fast_device_shows_the_material_step_on_a_cpu_and_asks_nothing(addon, scene, fresh_backend) -> None:
    settings = scene.img23d
    settings.texture = True
    assert not any(label.startswith("Materials:") for label in _labels(_drawn(addon)))  # no backend: nothing said
    session = _ready(addon)
    costs = addon.job_costs.costs_of(session.current_hello())
    assert costs is not None and costs.on_cpu  # the tests' backend runs on this CPU
    log = _drawn(addon)
    note = [label for label in _labels(log) if label.startswith("Materials:")]
    assert note and note[0].endswith(f"per object on {costs.device}")
    # Beside the toggle: right after PBR materials, before Complete Hidden.
    order = [args[1] if name == "prop" else kwargs.get("text") for name, args, kwargs in log
             if name in ("prop", "label")]
    assert order.index("materials") + 1 == order.index(note[0]) < order.index("complete_hidden")
    assert "accept_long" not in _props(log)
    settings.materials = False
    assert not any(label.startswith("Materials:") for label in _labels(_drawn(addon)))
    settings.materials = True
    settings.complete_hidden = "always"
    addon.operators._inputs.check_cost(bpy.context, session)  # passes without a word


@pytest.fixture(scope="module")
def slow_backend(addon):
    """A backend on a device a million times slower, for the two tests that ask it (one start, not one each),
    started as ``fresh_backend`` starts one; stopped after them, and the failpoint gone with it."""
    with backend_set_aside(addon), pytest.MonkeyPatch.context() as patch:
        patch.setenv("IMG23D_FAILPOINTS", "throughput:slow")
        yield _ready(addon)


def _slow_barrel_job(scene, slow_backend):
    """A Generate of one barrel with its hidden parts completed (the step the slow device estimates at hours),
    on the slow backend; its session, ready."""
    settings = scene.img23d
    settings.targets = "barrel"
    settings.complete_hidden = "always"
    settings.edit_size = "256"
    return slow_backend


@pytest.mark.smoke  # also run on Blender 4.2 LTS (scripts/test.sh)
def test_a_slow_device_shows_the_estimate_and_generate_waits_for_accept_long_job(addon, scene, slow_backend) -> None:
    settings = scene.img23d
    _slow_barrel_job(scene, slow_backend)
    log = _drawn(addon)
    labels = _labels(log)
    assert "This job would take hours:" in labels and "accept_long" in _props(log)
    estimate = labels[labels.index("This job would take hours:") + 1]
    assert estimate.startswith("Completing hidden objects about ") and " h on this CPU (" in estimate
    with pytest.raises(RuntimeError, match=r"This job would take hours: completing hidden objects about [0-9.]+ h "
                                           r"on this CPU \(.*\): tick Accept Long Job to start it anyway"):
        bpy.ops.img23d.generate()
    assert "barrel" not in bpy.data.objects
    settings.targets = ", ,"  # a mistake in the inputs is said first, not after the cost was accepted
    with pytest.raises(RuntimeError, match=r"holds only commas and spaces, no name"):
        bpy.ops.img23d.generate()


# Not a smoke test: the job it runs (the tiny completion model's) is the backend's, the same on every
# Blender; the panel and the refusal above are what differ between Blender versions.
def test_accept_long_job_starts_the_job_the_slow_device_estimated_at_hours(addon, scene, slow_backend) -> None:
    session = _slow_barrel_job(scene, slow_backend)
    scene.img23d.accept_long = True
    assert scene.img23d.job_options().accept_long
    assert bpy.ops.img23d.generate() == {"FINISHED"}  # accepted: the backend runs it
    assert "barrel" in bpy.data.objects and session.state.value == "ready"
