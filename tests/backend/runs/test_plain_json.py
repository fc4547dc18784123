"""Everything the backend writes is plain JSON, whatever numpy hands it (numpy 1.26 or 2.x).

numpy 2 returns numpy scalars where numpy 1 returned Python ones (``count_nonzero``,
comparisons of those), and a ``numpy.bool_`` in a manifest used to fail every job. Here numpy
scalars and arrays of every common kind go through each writer: protocol lines, run files,
the manifest, and the manifest a later backend rewrites after a crash.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import img23d_protocol as protocol
from img23d_backend.readers.images import load_image
from img23d_backend.runs.folders import Manifest, RunFolder, TargetRecord, recover_interrupted

NUMPY_VALUES = {
    "bool": np.bool_(True), "false": np.False_, "int64": np.int64(7), "int32": np.int32(-3),
    "uint8": np.uint8(255), "intp": np.intp(12), "float32": np.float32(0.25), "float64": np.float64(1.5),
    "float16": np.float16(2.0), "array": np.arange(6, dtype=np.float32).reshape(2, 3),
    "bool_array": np.array([True, False]), "empty": np.zeros((0, 3)), "nan": np.float64("nan"),
    "inf": np.float32("inf"), "nested": {"box": np.array([1.0, 2.0, 3.0, 4.0]), np.int64(3): [np.bool_(False)]},
}
EXPECTED = {
    "bool": True, "false": False, "int64": 7, "int32": -3, "uint8": 255, "intp": 12, "float32": 0.25,
    "float64": 1.5, "float16": 2.0, "array": [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]], "bool_array": [True, False],
    "empty": [], "nan": None, "inf": None, "nested": {"box": [1.0, 2.0, 3.0, 4.0], "3": [False]},
}


def _exact_types(value: object) -> None:
    """Only the types the standard json module makes: no numpy type survived."""
    if isinstance(value, dict):
        for key, item in value.items():
            assert type(key) is str
            _exact_types(item)
    elif isinstance(value, list):
        for item in value:
            _exact_types(item)
    else:
        assert value is None or type(value) in (str, int, float, bool), f"{value!r} is {type(value)}"


def test_plain_turns_numpy_into_python_values() -> None:
    converted = protocol.plain(NUMPY_VALUES)
    assert converted == EXPECTED
    _exact_types(converted)


def test_plain_refuses_what_is_not_data() -> None:
    with pytest.raises(TypeError, match="object is not JSON data"):
        protocol.plain({"x": object()})


@pytest.mark.parametrize("message", [
    protocol.Artifact(job="j", kind="mesh", path="/x.glb", target="house", instance=np.int64(2),
                      box=np.array([1.0, 2.0, 3.0, 4.0], dtype=np.float32), image_size=np.array([640, 480]),
                      seed=np.uint32(5)),
    protocol.Progress(job="j", stage="shape", step=np.int64(3), total=np.int32(30), message="denoising"),
    protocol.Result(id="j", ok=np.bool_(True), data=dict(NUMPY_VALUES)),
    protocol.Error(id="j", code="internal", message="m", target=None),
    protocol.Hello(role="backend", memory={"free": np.int64(1 << 40), "total": np.uint64(1 << 41)}),
], ids=lambda m: m.TYPE)
def test_every_protocol_event_is_one_plain_json_line(message: protocol.Message) -> None:
    line = message.to_line()
    assert "\n" not in line
    data = json.loads(line)
    _exact_types(data)
    assert protocol.decode(line, protocol.EVENT_TYPES).TYPE == message.TYPE


def test_run_files_and_the_manifest_are_plain_json(tmp_path: Path) -> None:
    manifest = Manifest(job_id="j", kind="generate", backend_version="0")
    run = RunFolder.create(tmp_path, "picture", manifest)
    manifest.image = {"has_alpha": np.bool_(False), "size": np.array([640, 480]), "scale": np.float32(0.5)}
    manifest.timings = {"shape": np.float64(1.25), "matting": np.float32(0.5)}
    manifest.memory_peaks = {"shape": np.int64(123456789)}
    manifest.options = {"seed": np.int64(3), "texture": np.bool_(True)}
    manifest.records = [TargetRecord(target="house", box=list(np.array([1.0, 2.0, 3.0, 4.0])),
                                     score=np.float32(0.9), seed=np.int64(0), faces=np.int64(2000),
                                     vertices=np.int32(1001), textured=np.bool_(True))]
    manifest.errors = [{"code": "out_of_memory", "retried": np.bool_(True)}]
    run.save_manifest()
    run.write_json("detections.json", dict(NUMPY_VALUES))

    saved = json.loads((run.root / "manifest.json").read_text(encoding="utf-8"))
    _exact_types(saved)
    assert saved["image"] == {"has_alpha": False, "size": [640, 480], "scale": 0.5}
    assert saved["records"][0]["textured"] is True and saved["records"][0]["faces"] == 2000
    detections = json.loads((run.root / "detections.json").read_text(encoding="utf-8"))
    assert detections == EXPECTED

    # A later backend marks the run interrupted and rewrites the manifest from what it read.
    manifest.pid = 2**22 + 12345  # no such process
    run.save_manifest()
    assert recover_interrupted(tmp_path) == [run.root]
    rewritten = json.loads((run.root / "manifest.json").read_text(encoding="utf-8"))
    assert rewritten["status"] == "interrupted"
    _exact_types(rewritten)


def test_a_loaded_image_records_python_values(tmp_path: Path) -> None:
    # The field that reached the manifest as numpy.bool_ under numpy 2.
    pixels = np.zeros((32, 32, 4), dtype=np.uint8)
    pixels[8:24, 8:24] = 255
    Image.fromarray(pixels, "RGBA").save(tmp_path / "cut.png")
    loaded = load_image(tmp_path / "cut.png")
    assert type(loaded.has_alpha) is bool and loaded.has_alpha
    assert json.loads(protocol.dumps(asdict(loaded) | {"image": None, "source": str(loaded.source)}))
