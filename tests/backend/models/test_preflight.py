"""Memory preflight: a stage's peak is estimated before it runs; too little room means smaller
batches, or a refusal naming the setting to lower, never a kill by the operating system."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from img23d_protocol import (EVENT_TYPES, ErrorCode, GenerateJobResult, GenerateRequest, JobOptions, ProtocolError,
                             RetextureRequest, decode, over_limits)

from img23d_backend.catalog import tiny_model_set
from img23d_backend.families.hunyuan3d import shape
from img23d_backend.families.step1x import specs as step1x_specs
from img23d_backend.jobs import Engine, EngineSettings, Job
from img23d_backend.models import dtypes, preflight, shape_memory
from img23d_backend.models.dtypes import DeviceKind, Precision
from img23d_backend.models.preflight import Room, check_job, check_paint, largest_octree, shape_batch, shape_need
from testdata import FAST_OPTIONS, HOUSE, MESH

GB = 10**9


def _fits_exactly(need: preflight.Need) -> Room:
    """A CPU room with just enough for ``need`` (and the reserve), not a byte more."""
    return Room(host=need.host + need.device + preflight.RESERVE_BYTES)


# --- the estimates ------------------------------------------------------------------------------

def test_the_shape_batch_shrinks_when_the_room_is_small_and_is_the_asked_one_when_large() -> None:
    options = JobOptions(octree_resolution=256)
    assert shape_batch(options, 5, "cpu", room=Room(host=1000 * GB)) == 5
    assert shape_batch(JobOptions(octree_resolution=256, shape_batch=2), 5, "cpu", room=Room(host=1000 * GB)) == 2
    assert shape_batch(options, 5, "cpu", room=_fits_exactly(shape_need(256, 3))) == 3
    assert shape_batch(options, 5, "cpu", room=_fits_exactly(shape_need(256, 1))) == 1
    # On a GPU the device's memory decides, not the RAM's.
    two = shape_need(256, 2, on_gpu=True).device + preflight.RESERVE_BYTES
    gpu = Room(host=1000 * GB, device=two - 1, shared=False)
    assert shape_batch(options, 5, "cuda", room=gpu) == 1


def test_when_not_one_target_fits_the_octree_resolution_is_named_with_the_largest_that_fits() -> None:
    room = _fits_exactly(shape_need(256, 1))
    with pytest.raises(ProtocolError) as caught:
        shape_batch(JobOptions(octree_resolution=384), 3, "cpu", room=room)
    error = caught.value
    assert error.code is ErrorCode.OUT_OF_MEMORY
    assert error.message.startswith("octree resolution 384 needs about ")
    assert "lower the octree resolution (at most 256 fits)" in error.message
    assert largest_octree(room) == 256


def test_a_job_above_what_the_machine_holds_at_all_is_refused() -> None:
    cpu_24gb = Room(host=24 * GB)
    with pytest.raises(ProtocolError) as caught:
        check_job(JobOptions(octree_resolution=1024, texture=False), "cpu", room=cpu_24gb)
    assert caught.value.code is ErrorCode.OUT_OF_MEMORY
    assert "octree resolution 1024" in caught.value.message and "GB are in all" in caught.value.message
    assert f"at most {largest_octree(cpu_24gb)} fits" in caught.value.message
    check_job(JobOptions(octree_resolution=256, texture_size=2048), "cpu", room=cpu_24gb)  # the defaults fit
    # Re-texturing makes no shape: its octree resolution is not held against it.
    check_job(JobOptions(octree_resolution=1024, texture_size=1024), "cpu", room=cpu_24gb, shape=False)


def test_a_huge_texture_is_refused_naming_the_texture_size() -> None:
    room = Room(host=4 * GB)
    with pytest.raises(ProtocolError) as caught:
        check_paint(JobOptions(texture_size=8192), "cpu", room=room)
    assert caught.value.code is ErrorCode.OUT_OF_MEMORY
    assert caught.value.message.startswith("texture size 8192 needs about ")
    assert "lower the texture size (at most " in caught.value.message
    check_paint(JobOptions(texture_size=512), "cpu", room=room)
    # On a GPU short of memory, the sentence says which memory is short.
    with pytest.raises(ProtocolError, match="GB of GPU memory"):
        check_paint(JobOptions(texture_size=8192), "cuda", room=Room(host=1000 * GB, device=4 * GB, shared=False))


def test_the_limits_follow_the_device_and_leave_room_for_the_models(monkeypatch) -> None:
    monkeypatch.setattr(preflight, "total_room", lambda device: Room(host=8 * GB) if str(device) == "cpu"
                        else Room(host=64 * GB, device=80 * GB, shared=False))
    small = preflight.limits("cpu", shape_models_bytes=0, paint_models_bytes=0)
    assert small == {"octree_resolution": largest_octree(Room(host=8 * GB)),
                     "texture_size": preflight.largest_texture(Room(host=8 * GB))}
    with_models = preflight.limits("cpu", shape_models_bytes=4 * GB, paint_models_bytes=4 * GB)
    assert with_models["octree_resolution"] < small["octree_resolution"]
    assert with_models["texture_size"] < small["texture_size"]
    big = preflight.limits("cuda", shape_models_bytes=6 * GB, paint_models_bytes=None)  # no texture models
    assert set(big) == {"octree_resolution"} and big["octree_resolution"] > small["octree_resolution"]


def test_over_limits_names_each_setting_above_the_hellos_limits() -> None:
    hello = decode(json.dumps({"v": 1, "type": "hello", "role": "backend",
                               "limits": {"octree_resolution": 128, "texture_size": 1024}}), EVENT_TYPES)
    limits = hello.limits
    assert over_limits(JobOptions(octree_resolution=256, texture_size=2048), limits) == [
        ("octree_resolution", 256, 128), ("texture_size", 2048, 1024)]
    assert over_limits(JobOptions(octree_resolution=128, texture=False, texture_size=8192), limits) == []
    # A re-texture makes no shape: only its texture is held against the limits.
    assert over_limits(JobOptions(octree_resolution=384, texture_size=2048), limits, shapes=False) == [
        ("texture_size", 2048, 1024)]
    assert over_limits(JobOptions(octree_resolution=4096), {}) == []  # an older backend says nothing
    assert over_limits(JobOptions(), {"octree_resolution": "lots", "unknown": 1}) == []


# --- in the engine, with the tiny models --------------------------------------------------------

@pytest.fixture(scope="module")
def engine(tiny_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return Engine(EngineSettings(models=tiny_model_set(tiny_root), runs_dir=tmp_path_factory.mktemp("runs"),
                                 device="cpu"))


def _generate(engine: Engine, targets: list[str], **options) -> GenerateJobResult:
    request = GenerateRequest(id="p", image=str(HOUSE), targets=targets,
                              options=JobOptions(**{**FAST_OPTIONS, **options}))
    return engine.run(request, Job(id="p", emit=lambda event: None))


def test_a_three_target_job_in_a_small_room_runs_in_smaller_batches(engine: Engine, monkeypatch) -> None:
    octree = FAST_OPTIONS["octree_resolution"]
    monkeypatch.setattr(preflight, "free_room", lambda device: _fits_exactly(shape_need(octree, 1)))
    real, batch_sizes = shape.generate_shapes, []

    def recording(pipe, images, seeds, settings, **kwargs):
        batch_sizes.append((len(images), settings.batch_size))
        return real(pipe, images, seeds, settings, **kwargs)

    monkeypatch.setattr(shape, "generate_shapes", recording)
    data = _generate(engine, ["barrel"], keep="all")
    assert batch_sizes == [(3, 1)]  # three targets, one at a time
    assert [r.status for r in data.targets] == ["done"] * 3
    manifest = json.loads(Path(data.manifest).read_text())
    assert manifest["status"] == "finished" and manifest["errors"] == []


def test_when_nothing_fits_the_job_fails_with_out_of_memory_and_a_closed_manifest(engine: Engine,
                                                                                 monkeypatch) -> None:
    monkeypatch.setattr(preflight, "free_room", lambda device: Room(host=100 * 2**20))
    before = set(engine.settings.runs_dir.iterdir())
    with pytest.raises(ProtocolError) as caught:
        _generate(engine, ["house", "chimney"])
    assert caught.value.code is ErrorCode.OUT_OF_MEMORY and "octree resolution" in caught.value.message
    [run] = set(engine.settings.runs_dir.iterdir()) - before
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "failed"
    assert [e["code"] for e in manifest["errors"]] == ["out_of_memory"]
    assert manifest["records"] and not any(r["status"] == "done" for r in manifest["records"])
    assert not list(run.glob("*.glb"))


def test_settings_the_machine_cannot_hold_are_refused_before_a_run_folder(engine: Engine, monkeypatch) -> None:
    monkeypatch.setattr(preflight, "total_room", lambda device: Room(host=24 * GB))
    before = set(engine.settings.runs_dir.iterdir())
    with pytest.raises(ProtocolError, match="octree resolution 1024") as caught:
        _generate(engine, ["house"], octree_resolution=1024)
    assert caught.value.code is ErrorCode.OUT_OF_MEMORY
    retexture = RetextureRequest(id="r", image=str(HOUSE), mesh=str(MESH), name="house",
                                 options=JobOptions(texture_size=8192, render_size=4096))
    monkeypatch.setattr(preflight, "total_room", lambda device: Room(host=4 * GB))
    with pytest.raises(ProtocolError, match="texture size 8192"):
        engine.run(retexture, Job(id="r", emit=lambda event: None))
    assert set(engine.settings.runs_dir.iterdir()) == before


# --- the licence-clean family's shape model ----------------------------------------------------

def test_step1x_grows_with_the_grid_not_the_batch_and_names_its_own_limit() -> None:
    step1x = step1x_specs.STEP1X_MEMORY
    # One target's grid at a time: a batch costs only its DiT activations more.
    one, three = shape_need(384, 1, memory=step1x), shape_need(384, 3, memory=step1x)
    # (The DiT's activations and one decoder call never peak together: the larger of the two counts.)
    dit, call = step1x.dit_per_image, step1x.decoder_call
    assert three.host - one.host == max(3 * 2 * dit, call) - max(2 * dit, call) > 0
    assert shape_need(384, 3).host - shape_need(384, 1).host > 2 * shape_memory.TARGET_BYTES_PER_POINT * 385 ** 3 - 1
    # Its estimate, not Hunyuan3D-2's, decides the octree the hello offers and the refusal names.
    room = _fits_exactly(shape_need(512, 1, memory=step1x))
    assert largest_octree(room, memory=step1x) == 512
    with pytest.raises(ProtocolError) as caught:
        check_job(JobOptions(octree_resolution=640), "cpu", room, memory=step1x)
    assert caught.value.code is ErrorCode.OUT_OF_MEMORY and "at most 512 fits" in caught.value.message


def test_a_clean_family_engine_uses_step1x_memory(tiny_root: Path, tmp_path: Path) -> None:
    engine = Engine(EngineSettings(models=tiny_model_set(tiny_root, family="clean"), runs_dir=tmp_path, device="cpu"))
    parameters = engine.manager.spec("shape").size_bytes // 2
    assert engine.shape_memory == step1x_specs.step1x_memory(Precision("float32"), parameters)
    assert engine.classifier_free
    hunyuan = Engine(EngineSettings(models=tiny_model_set(tiny_root), runs_dir=tmp_path, device="cpu"))
    assert hunyuan.shape_memory is preflight.DENSE_GRID_MEMORY and hunyuan.shape_weights is None


# --- the precision Step1X-3D runs in (families/step1x/specs.step1x_precision) ---------------------------

STEP1X_PARAMETERS = 1_750_000_000   # the 1300m model as the registry estimates it (3.5 GB at 16 bits)


def test_step1x_memory_counts_each_precision() -> None:
    bf16 = step1x_specs.step1x_memory(Precision("bfloat16"), STEP1X_PARAMETERS)
    fp32 = step1x_specs.step1x_memory(Precision("float32"), STEP1X_PARAMETERS)
    fp16 = step1x_specs.step1x_memory(Precision("float16", checked=True), STEP1X_PARAMETERS)
    # Measured in 16 bits; float32 activations are twice as large; the grid is float32 in all three.
    assert (bf16.dit_per_image, bf16.decoder_call) == (step1x_specs.STEP1X_DIT_BYTES_PER_IMAGE,
                                                       step1x_specs.STEP1X_DECODER_CALL_BYTES)
    assert (fp32.dit_per_image, fp32.decoder_call) == (2 * bf16.dit_per_image, 2 * bf16.decoder_call)
    assert fp32.host_per_point == bf16.host_per_point == fp16.host_per_point
    assert bf16.retry is None and fp32.retry is None and bf16.retry_weights == fp32.retry_weights == 0
    # fp16's retry: one target in float32, its weights 2 bytes per parameter wider meanwhile; apart
    # from the run's own need, which it would otherwise make impossible on older 8 GB GPUs.
    assert fp16.retry == fp32 and fp16.retry_weights == 2 * STEP1X_PARAMETERS
    assert preflight.retry_need(384, memory=bf16) is None and preflight.retry_need(384, memory=fp32) is None
    assert shape_need(384, 1, memory=fp16) == shape_need(384, 1, memory=bf16)
    on_cpu, on_gpu = preflight.retry_need(384, memory=fp16), preflight.retry_need(384, on_gpu=True, memory=fp16)
    assert on_cpu.host == shape_need(384, 1, memory=fp32).host + 2 * STEP1X_PARAMETERS
    assert on_gpu.device == shape_need(384, 1, on_gpu=True, memory=fp32).device + 2 * STEP1X_PARAMETERS


def test_a_float32_retry_that_cannot_fit_is_refused_naming_it() -> None:
    fp16 = step1x_specs.step1x_memory(Precision("float16", checked=True), STEP1X_PARAMETERS)
    weights = 2 * STEP1X_PARAMETERS
    need = preflight.retry_need(384, on_gpu=True, memory=fp16)
    gpu = Room(host=64 * GB, device=weights + need.device + preflight.RESERVE_BYTES, shared=False)
    preflight.check_retry(384, "cuda", fp16, weights, room=gpu)
    with pytest.raises(ProtocolError) as caught:
        preflight.check_retry(384, "cuda", fp16, weights, room=Room(host=64 * GB, device=gpu.device - 1, shared=False))
    assert caught.value.code is ErrorCode.OUT_OF_MEMORY
    assert caught.value.message.startswith("making it again in float32 needs about ")
    assert "GB of GPU memory beside the model" in caught.value.message
    preflight.check_retry(384, "cuda", step1x_specs.step1x_memory(Precision("bfloat16"), STEP1X_PARAMETERS), weights,
                          room=Room(host=0, device=0, shared=False))   # no retry: nothing to refuse


def test_the_shape_models_weights_are_counted_before_the_job() -> None:
    fp32 = step1x_specs.step1x_memory(Precision("float32"), STEP1X_PARAMETERS)
    weights = STEP1X_PARAMETERS * 4
    room = _fits_exactly(shape_need(384, 1, memory=fp32))
    check_job(JobOptions(octree_resolution=384, texture=False), "cpu", room, memory=fp32)
    with pytest.raises(ProtocolError) as caught:
        check_job(JobOptions(octree_resolution=384, texture=False), "cpu", room, memory=fp32, shape_weights=weights)
    assert caught.value.code is ErrorCode.OUT_OF_MEMORY
    assert "GB are in all beside the shape model's weights" in caught.value.message
    check_job(JobOptions(octree_resolution=384, texture=False), "cpu", Room(host=room.host + weights), memory=fp32,
              shape_weights=weights)


@pytest.mark.parametrize(("kind", "bytes_per_parameter", "retry"),
                         [(DeviceKind("cpu"), 4, 0), (DeviceKind("mps"), 4, 0),
                          (DeviceKind("cuda", (8, 6)), 2, 0), (DeviceKind("cuda", (7, 5)), 2, 2)])
def test_a_clean_family_engine_counts_its_precision(tiny_root: Path, tmp_path: Path, monkeypatch,
                                                    kind: DeviceKind, bytes_per_parameter: int, retry: int) -> None:
    monkeypatch.setattr(dtypes, "device_kind", lambda device: kind)
    engine = Engine(EngineSettings(models=tiny_model_set(tiny_root, family="clean"), runs_dir=tmp_path, device="cpu"))
    parameters = engine.manager.spec("shape").size_bytes // 2
    assert engine.shape_weights == parameters * bytes_per_parameter   # before it is loaded
    assert engine.shape_memory.retry_weights == parameters * retry
    assert (engine.shape_memory.retry is not None) is bool(retry)
    with engine.manager.use("shape"):
        pass
    assert engine.shape_weights == engine.manager.snapshot()["models"]["shape"]["bytes"]   # then as measured


def test_the_hello_counts_step1x_weights_in_the_dtype_it_runs(tiny_root: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(preflight, "total_room", lambda device: Room(host=16 * GB))
    models = tiny_model_set(tiny_root, family="clean")
    # The full-size model's estimate: its weights decide with the grid what fits.
    models = replace(models, shape=replace(models.shape, size_bytes=2 * STEP1X_PARAMETERS))
    offered, memory = {}, {}
    for kind, bytes_per_parameter in ((DeviceKind("cpu"), 4), (DeviceKind("cuda", (8, 6)), 2)):
        monkeypatch.setattr(dtypes, "device_kind", lambda device, kind=kind: kind)
        engine = Engine(EngineSettings(models=models, runs_dir=tmp_path, device="cpu"))
        offered[kind.type], memory[kind.type] = engine.limits()["octree_resolution"], engine.shape_memory
        beside = Room(host=16 * GB - STEP1X_PARAMETERS * bytes_per_parameter)
        assert offered[kind.type] == largest_octree(beside, memory=memory[kind.type])
    # fp32 on the CPU: 7 GB of weights, not the registry's 3.5 GB at 16 bits, leave less room for the grid.
    assert offered["cpu"] < largest_octree(Room(host=16 * GB - STEP1X_PARAMETERS * 2), memory=memory["cpu"])
    assert offered["cpu"] < offered["cuda"]
