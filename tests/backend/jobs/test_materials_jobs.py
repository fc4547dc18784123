"""The material step of a textured Generate (issue 47, part 2a), with the tiny models in both families.

A painted object's GLB carries glTF's metallicRoughness texture beside its base colour, the size of
the base colour and baked into the same UV layout; ``materials`` off gives the colour alone and never
loads the material model; a material model that cannot be loaded or run (a damaged file, out of memory,
maps that are not numbers) keeps every object's colour texture and says so once, in one sentence.
"""

from __future__ import annotations

import dataclasses
import errno
import io
import json
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import bpy
import numpy as np
import pytest
from PIL import Image

from testdata import FAST_OPTIONS, FAST_PAINT, HOUSE
from img23d_backend.batch.work import result_notes
from img23d_backend.env import failpoints
from img23d_backend.env.failpoints import ENV as FAILPOINTS
from img23d_backend.families.hunyuan3d import paint as hunyuan_paint
from img23d_backend.finish.glb import read_glb_json
from img23d_backend.jobs import Engine, EngineSettings, Job
from img23d_backend.materials.marigold.model import MARIGOLD_WEIGHTS
from img23d_backend.runs.disk_errors import disk_error
from img23d_backend.runs.folders import TMP_PREFIX, RunFolder
from img23d_backend.catalog import tiny_model_set
from img23d_backend.materials.marigold import material as marigold
from img23d_backend.materials.marigold import pipeline as materials_stage
from img23d_protocol import Error, GenerateJobResult, GenerateRequest, JobOptions, Progress, ProtocolError

TARGETS = ["house", "chimney"]

pytestmark = pytest.mark.skipif(not HOUSE.is_file(), reason=f"needs the example picture {HOUSE}")


def _engine(tiny_root: Path, runs: Path, family: str = "hunyuan3d", materials_folder: Path | None = None) -> Engine:
    models = tiny_model_set(tiny_root) if family == "hunyuan3d" else tiny_model_set(tiny_root, family=family)
    if materials_folder is not None:
        models = dataclasses.replace(models, materials=dataclasses.replace(models.materials,
                                                                           local_path=materials_folder))
    return Engine(EngineSettings(models=models, runs_dir=runs, device="cpu"))


@pytest.fixture(scope="module")
def hunyuan(tiny_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return _engine(tiny_root, tmp_path_factory.mktemp("runs"))


@pytest.fixture(scope="module")
def clean(tiny_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Engine:
    return _engine(tiny_root, tmp_path_factory.mktemp("runs"), family="clean")


def _generate(engine: Engine, events: list | None = None, targets: list[str] | None = None,
              **options: Any) -> GenerateJobResult:
    request = GenerateRequest(id="m", image=str(HOUSE), targets=targets or ["chimney"],
                              options=JobOptions(**{**FAST_OPTIONS, **FAST_PAINT, **options}))
    return engine.run(request, Job(id="m", emit=(events if events is not None else []).append))


def _image(glb: Path, document: dict, index: int) -> Image.Image:
    """The GLB's image ``index`` (its bytes in the binary chunk, through its buffer view)."""
    data = glb.read_bytes()
    json_length = int.from_bytes(data[12:16], "little")
    binary = data[20 + json_length + 8:]
    view = document["bufferViews"][document["images"][index]["bufferView"]]
    start = view.get("byteOffset", 0)
    return Image.open(io.BytesIO(binary[start:start + view["byteLength"]]))


def _materials_of(data: GenerateJobResult) -> list[tuple[dict, Image.Image, Image.Image | None]]:
    """Each done target's GLB: its material's pbrMetallicRoughness, base colour and metallicRoughness images."""
    found = []
    for record in data.targets:
        assert record.status == "done" and record.textured, record
        glb = Path(data.run_dir) / record.mesh
        document = read_glb_json(glb)
        pbr = document["materials"][0]["pbrMetallicRoughness"]

        def image(key: str) -> Image.Image | None:
            if key not in pbr:
                return None
            return _image(glb, document, document["textures"][pbr[key]["index"]]["source"])

        found.append((pbr, image("baseColorTexture"), image("metallicRoughnessTexture")))
    return found


def _assert_metallic_roughness(data: GenerateJobResult) -> None:
    assert data.materials_skipped is None
    for pbr, base, packed in _materials_of(data):
        assert base is not None and packed is not None, pbr
        assert packed.size == base.size == (FAST_PAINT["texture_size"],) * 2
        assert pbr.get("metallicFactor", 1.0) == 1.0 and pbr.get("roughnessFactor", 1.0) == 1.0
        pixels = np.asarray(packed.convert("RGB"))
        assert (pixels[..., 0] == 255).all()  # R unused
        # Roughness and metallic estimates, baked and filled: every texel has a value, not all one value.
        assert pixels[..., 1].std() > 0 or pixels[..., 2].std() > 0


@pytest.fixture(scope="module")
def painted(hunyuan: Engine) -> GenerateJobResult:
    """A textured Generate of one target on Hunyuan3D-2's tiny models."""
    return _generate(hunyuan)


def test_a_textured_generate_carries_roughness_and_metallic_beside_the_colour(painted: GenerateJobResult) -> None:
    data = painted
    _assert_metallic_roughness(data)
    [record] = data.targets
    manifest = json.loads(Path(data.manifest).read_text())
    assert manifest["materials_skipped"] is None
    assert (Path(data.run_dir) / "views" / record.stem / "metallic_roughness.png").is_file()


def test_the_jobs_timings_count_the_material_step_as_a_stage_of_its_own(painted: GenerateJobResult) -> None:
    """The job's stage seconds and memory peaks count the material step (before, only the target's record did:
    on a lent H200 a quarter of a textured job, 24 s of 105, was in no stage: bench/results/chain-full-size-gpu-h200.json)."""
    [record] = painted.targets
    manifest = json.loads(Path(painted.manifest).read_text())
    assert 0 < manifest["timings"]["materials"] <= record.timings["materials"]
    assert "materials" in manifest["memory_peaks"] and "materials" in painted.timings


def test_blenders_gltf_importer_wires_both_textures_into_the_principled_bsdf(painted: GenerateJobResult) -> None:
    glb = Path(painted.run_dir) / painted.targets[0].mesh
    before = set(bpy.data.objects)
    bpy.ops.import_scene.gltf(filepath=str(glb))
    [obj] = set(bpy.data.objects) - before
    try:
        nodes = obj.active_material.node_tree.nodes
        principled = next(n for n in nodes if n.type == "BSDF_PRINCIPLED")
        assert principled.inputs["Base Color"].links[0].from_node.type == "TEX_IMAGE"
        sources = []
        for socket in ("Metallic", "Roughness"):
            [link] = principled.inputs[socket].links
            separate = link.from_node
            assert separate.type == "SEPARATE_COLOR", separate.type
            [image_link] = separate.inputs[0].links
            assert image_link.from_node.type == "TEX_IMAGE"
            sources.append((link.from_socket.name, image_link.from_node.image))
        # Metallic from blue, roughness from green, of one image other than the base colour's.
        assert [name for name, _ in sources] == ["Blue", "Green"]
        assert sources[0][1] is sources[1][1]
        assert sources[0][1] is not principled.inputs["Base Color"].links[0].from_node.image
    finally:
        mesh = obj.data
        bpy.data.objects.remove(obj)
        bpy.data.meshes.remove(mesh)


def test_the_clean_family_bakes_them_through_its_own_bake(clean: Engine) -> None:
    before = clean.manager.counters()["materials"].loads_from_disk
    data = _generate(clean)
    _assert_metallic_roughness(data)
    assert clean.manager.counters()["materials"].loads_from_disk == before + 1  # this engine's only job


def test_no_materials_gives_the_colour_alone_and_never_loads_the_model(tiny_root: Path, tmp_path: Path) -> None:
    engine = _engine(tiny_root, tmp_path / "runs")
    data = _generate(engine, materials=False)
    [(pbr, base, packed)] = _materials_of(data)
    assert base is not None and packed is None and "metallicRoughnessTexture" not in pbr
    assert data.materials_skipped is None
    counters = engine.manager.counters()["materials"]
    assert counters.loads_from_disk == 0


def _assert_colour_kept_and_said_once(data: GenerateJobResult, events: list, says: str,
                                     opening: str = "materials skipped: the materials model") -> str:
    sentence = data.materials_skipped
    assert sentence is not None and sentence.startswith(opening), sentence
    assert says in sentence and sentence.endswith("every object keeps its colour texture") and "\n" not in sentence
    manifest = json.loads(Path(data.manifest).read_text())
    assert manifest["materials_skipped"] == sentence
    assert sentence in result_notes(data)  # what a batch repeats for the picture
    assert [e.message for e in events if isinstance(e, Progress) and e.message == sentence] == [sentence]
    assert not [e for e in events if isinstance(e, Error)]
    found = _materials_of(data)
    assert len(found) == len(data.targets)
    for pbr, base, packed in found:
        assert base is not None and packed is None and "metallicRoughnessTexture" not in pbr
    return sentence


def test_a_damaged_material_model_keeps_every_colour_texture_and_says_so_once(tiny_root: Path,
                                                                              tmp_path: Path) -> None:
    models = tiny_model_set(tiny_root)
    copy = tmp_path / "materials"
    shutil.copytree(models.materials.local_path, copy, copy_function=os.symlink)
    weights = copy / "unet" / MARIGOLD_WEIGHTS["unet"]  # the file the loader reads
    weights.unlink()  # a link to the replica's file: never write through it
    weights.write_bytes(b"\x00not a safetensors file" * 64)
    engine = _engine(tiny_root, tmp_path / "runs", materials_folder=copy)
    events: list = []
    data = _generate(engine, events, targets=TARGETS)
    _assert_colour_kept_and_said_once(data, events, "could not be loaded or run")
    # Tried once for the job, not once per target.
    assert engine.manager.counters()["materials"].loads_from_disk == 0


def test_running_out_of_memory_loading_the_material_model_keeps_the_colour(tiny_root: Path, tmp_path: Path,
                                                                           monkeypatch) -> None:
    monkeypatch.setenv(FAILPOINTS, "load.materials:oom")
    events: list = []
    data = _generate(_engine(tiny_root, tmp_path / "runs"), events)
    _assert_colour_kept_and_said_once(data, events, "it ran out of memory")


@pytest.mark.fault("material maps' bake out of memory")
def test_running_out_of_memory_baking_the_maps_keeps_every_object_and_its_colour(tiny_root: Path, tmp_path: Path,
                                                                                 monkeypatch) -> None:
    """The bake runs at the colour's render size beside the loaded material model: out of memory there failed
    the job, every object lost (and the command line ran it again, to fail the same way)."""
    monkeypatch.setenv(FAILPOINTS, "materials.bake:oom")
    events: list = []
    data = _generate(_engine(tiny_root, tmp_path / "runs"), events, targets=TARGETS)
    _assert_colour_kept_and_said_once(data, events, "it ran out of memory",
                                      opening="materials skipped: the material maps could not be baked")


def test_maps_that_are_not_numbers_keep_the_colour(hunyuan: Engine, monkeypatch) -> None:
    real = materials_stage.estimate_materials

    def not_numbers(model: materials_stage.MaterialsModel, *args: Any, **kwargs: Any) -> Any:
        pipeline = model.pipeline

        class NaNs:  # the pipeline, its output's values all NaN
            def __getattr__(self, name: str) -> Any:
                return getattr(pipeline, name)

            def __call__(self, *a: Any, **k: Any) -> Any:
                output = pipeline(*a, **k)
                output.prediction = np.full_like(output.prediction, np.nan)
                return output

        return real(dataclasses.replace(model, pipeline=NaNs()), *args, **kwargs)

    monkeypatch.setattr(marigold, "MATERIAL", dataclasses.replace(marigold.MATERIAL, estimate=not_numbers))
    events: list = []
    data = _generate(hunyuan, events)
    _assert_colour_kept_and_said_once(data, events, "not finite numbers")


def test_too_little_memory_for_one_view_keeps_the_colour(hunyuan: Engine, monkeypatch) -> None:
    from img23d_backend.materials import memory
    from img23d_backend.models import preflight

    real = memory.check_materials  # the real check, on a machine with 1 MiB free
    monkeypatch.setattr(memory, "check_materials", lambda figures, resolution, size, device, room=None: real(
        figures, resolution, size, device, preflight.Room(host=1 << 20)))
    events: list = []
    data = _generate(hunyuan, events)
    _assert_colour_kept_and_said_once(data, events, "GB are free now")


def test_the_job_asks_for_the_material_models_licence_only_where_it_paints_with_materials() -> None:
    from img23d_backend.jobs.kinds.generate import GenerateRun

    def roles(**options: Any) -> tuple[str, ...]:
        return GenerateRun.roles_used(GenerateRequest(id="r", image=str(HOUSE), options=JobOptions(**options)))

    assert "materials" in roles(texture=True) and "materials" not in roles(texture=True, materials=False)
    assert "materials" not in roles(texture=False)


def test_the_command_lines_no_materials_turns_them_off() -> None:
    from img23d_backend.commands.cli import build_parser
    from img23d_backend.commands.options import job_options

    for flags, chosen in (([], True), (["--no-materials"], False)):
        args = build_parser().parse_args(["generate", str(HOUSE), "--models", "tiny", *flags])
        assert job_options(args).materials is chosen



@pytest.mark.fault("a fill on the tail fails")
def test_fills_run_on_the_tail_while_the_next_target_paints_and_a_failed_one_says_so_once(hunyuan: Engine,
                                                                                        monkeypatch) -> None:
    """Issue 89: the atlas fills (the colour's, the maps') ran on the job's thread between painting one target
    and the next; they run on the tail's worker now, beside the device's next target. A fill that failed inside
    the paint step kept the object untextured in one sentence; on the tail it must do the same: here the second
    object's colour fill fails, and the first keeps both its textures, filled."""
    log: list[tuple[str, str, float]] = []
    real_fill, real_paint = hunyuan_paint.fill_texture, hunyuan_paint.paint_mesh

    def fill(*args: Any, **kwargs: Any) -> Any:
        log.append(("fill", threading.current_thread().name, time.perf_counter()))
        return real_fill(*args, **kwargs)

    def paint(*args: Any, **kwargs: Any) -> Any:
        painted = real_paint(*args, **kwargs)
        log.append(("painted", threading.current_thread().name, time.perf_counter()))
        return painted

    monkeypatch.setattr(hunyuan_paint, "fill_texture", fill)
    monkeypatch.setattr(hunyuan_paint, "paint_mesh", paint)
    monkeypatch.setattr(failpoints, "_hits", {})
    monkeypatch.setenv(FAILPOINTS, "paint.fill:oom@3")  # two fills a target: the second target's colour
    events: list = []
    data = _generate(hunyuan, events, targets=TARGETS)
    fills = [entry for entry in log if entry[0] == "fill"]
    assert len(fills) == 2 and all(name.startswith("img23d-tail") for _, name, _ in fills), log
    last_painted = [entry for entry in log if entry[0] == "painted"][-1]
    assert fills[0][2] < last_painted[2], "the first target's fills waited for the second target's painting"
    first, second = data.targets
    assert [r.status for r in data.targets] == ["done", "done"]
    assert first.textured and not second.textured and first.error is None
    _assert_metallic_roughness(dataclasses.replace(data, targets=(first,)))
    assert first.timings["paint_fill"] > 0 and first.timings["export"] > 0
    message = f"painting {second.target!r} failed (it ran out of memory"
    assert second.error is not None and second.error["message"].startswith(message), second.error
    assert second.error["message"].endswith("kept it untextured")
    said = [e for e in events if isinstance(e, Error)]
    assert [e.message for e in said] == [second.error["message"]] and said[0].target == second.target
    run = Path(data.run_dir)
    manifest = json.loads(Path(data.manifest).read_text())
    assert [r["error"] for r in manifest["records"]] == [None, second.error]
    assert "images" not in read_glb_json(run / second.mesh)  # untextured, as written
    assert (run / "views" / first.stem / "metallic_roughness.png").is_file()
    assert not (run / "views" / second.stem / "metallic_roughness.png").exists()  # never written half-made


@pytest.mark.fault("the disk fills while the tail writes")
@pytest.mark.parametrize("file", ["GLB", "maps picture"])
def test_a_full_disk_on_the_tail_while_the_next_target_paints_fails_the_job_in_one_sentence(hunyuan: Engine,
                                                                                            monkeypatch,
                                                                                            file: str) -> None:
    """The first object's GLB, or its material maps' picture (written on the tail once filled), meets a full
    disk while the second object paints: the job fails as a full disk on the job's thread failed it (not as a
    failed fill, which keeps the object), in one sentence, its manifest closed as failed with that sentence,
    and no half-written file in its run folder."""
    if file == "GLB":
        monkeypatch.setattr(failpoints, "_hits", {})
        monkeypatch.setenv(FAILPOINTS, "write.glb:enospc")
    else:
        write_image = RunFolder.write_image

        def full(folder: RunFolder, relative: str, image: Any, like: int = 0o777) -> Path:
            if relative.endswith("metallic_roughness.png"):
                raise disk_error(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), f"cannot write {relative}")
            return write_image(folder, relative, image, like)

        monkeypatch.setattr(RunFolder, "write_image", full)
    with pytest.raises(ProtocolError) as caught:
        _generate(hunyuan, targets=TARGETS)
    assert caught.value.code.value == "disk" and "the disk is full" in caught.value.message
    assert "\n" not in caught.value.message
    run = max(Path(hunyuan.settings.runs_dir).iterdir(), key=lambda p: p.stat().st_mtime)
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "failed"
    assert [e["message"] for e in manifest["errors"] if e["code"] == "disk"] == [caught.value.message]
    assert not [p for p in run.rglob("*") if p.name.startswith(TMP_PREFIX)]
    assert not list(run.glob("*.glb"))
