"""The repository's own examples (examples/, made by scripts/make_example.py) are what the tests,
the demo and the guide take them for: a clone alone has every picture and mesh they need."""

from __future__ import annotations

import re

import numpy as np
import trimesh
from PIL import Image

from testdata import EXAMPLES, HOUSE, MESH, MESH_FACES, MESH_VERTICES, REPO, SUBJECT
from img23d_backend.grounding.qwen3_vl.replica_answer import ANSWER


def test_the_scene_is_cut_out_with_a_part_in_every_box_the_tiny_grounding_answers() -> None:
    with Image.open(HOUSE) as image:
        assert image.size == (1024, 1024) and image.mode == "P" and "transparency" in image.info
        pixels = np.asarray(image.convert("RGBA")).astype(int)
    empty = pixels[..., 3] == 0
    assert empty[:20].all() and empty[:, :20].all(), "the picture's margin should be transparent"
    assert (pixels[empty][:, :3] >= 250).all(), "transparent pixels should be white where the alpha is dropped"
    for x0, y0, x1, y1, label in re.findall(r'\[(\d+), (\d+), (\d+), (\d+)\], "label": "(\w+)"', ANSWER):
        box = empty[int(y0) * 1024 // 1000:int(y1) * 1024 // 1000, int(x0) * 1024 // 1000:int(x1) * 1024 // 1000]
        assert (~box).mean() > 0.3, f"the {label}'s box {x0, y0, x1, y1} is mostly empty in {HOUSE.name}"


def test_the_subject_has_a_real_alpha_channel_around_one_subject() -> None:
    with Image.open(SUBJECT) as image:
        assert image.mode == "RGBA"
        alpha = np.asarray(image)[..., 3]
    assert alpha[0].max() == 0 and alpha[-1].max() == 0, "the subject's background should be transparent"
    assert 0.1 < (alpha > 128).mean() < 0.6


def test_the_mesh_is_one_closed_piece_without_uvs_of_the_size_the_tests_say() -> None:
    raw = trimesh.load(MESH, force="mesh", process=False)
    assert (len(raw.vertices), len(raw.faces)) == (MESH_VERTICES, MESH_FACES)
    assert getattr(raw.visual, "uv", None) is None
    merged = trimesh.load(MESH, force="mesh")
    assert merged.is_watertight and len(merged.split(only_watertight=False)) == 1
    assert np.abs(merged.bounds).max() < 1.0  # about a shape model's unit cube


def test_the_examples_say_their_licence_and_how_they_were_made() -> None:
    notes = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    assert "CC0" in notes and "scripts/make_example.py" in notes
    assert (REPO / "scripts" / "make_example.py").is_file()
    for path in (HOUSE, SUBJECT, MESH):
        assert f"`{path.name}`" in notes, f"examples/README.md does not describe {path.name}"
    # The faces it says are the faces the file has (it said 20,000 of the 40,000: issue 87 item 11).
    [faces] = re.findall(r"([\d,]+) faces", notes.split(f"`{MESH.name}`", 1)[1].splitlines()[0])
    assert int(faces.replace(",", "")) == len(trimesh.load(MESH, force="mesh", process=False).faces) == MESH_FACES
