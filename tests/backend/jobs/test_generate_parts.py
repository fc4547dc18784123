"""Generate with a name made in parts too (issue 64 items 3-4): "house (chimney, door)" gives the house whole
and in parts in the same run, each part in the whole's frame with the licence; each part takes its share of the
painted whole's colour, so parts agree where they meet; a part that cannot be made leaves the whole, said."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import trimesh
from PIL import Image

from img23d_backend.commands import cli
from img23d_backend.env.job_control import CancelToken
from img23d_backend.models import throughput
from img23d_backend.parts import costs
from img23d_backend.parts.driver import share_of

ROOT = Path(__file__).resolve().parents[3]
HOUSE = ROOT / "examples" / "house_scene.png"
QUICK = ["--models", "tiny", "--device", "cpu", "--parts-grid", "32", "--no-texture"]


@pytest.fixture(autouse=True)
def _tiny(tiny_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMG23D_TINY_MODELS", str(tiny_root))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def _generate(tmp_path: Path, capsys, targets: str, *more: str) -> tuple[int, str, str, Path | None]:
    code = cli.main(["generate", str(HOUSE), "--targets", targets, *QUICK, *more, "--out", str(tmp_path / "runs")])
    out = capsys.readouterr()
    runs = sorted((tmp_path / "runs").glob("*")) if (tmp_path / "runs").exists() else []
    return code, out.out, out.err, runs[-1] if runs else None


def test_a_name_with_parts_arrives_whole_and_in_parts_in_one_run(tmp_path: Path, capsys) -> None:
    code, out, err, run = _generate(tmp_path, capsys, "house (chimney, door), chimney")
    assert code == 0, err
    records = {r["stem"]: r for r in json.loads((run / "manifest.json").read_text())["records"]}
    parts = records["house"]["parts"]
    assert set(parts["files"]) == {"chimney", "door"} and "parts" not in records["chimney"]
    assert parts["combined"] == "house_parts/house_combined.glb" and parts["mask"] == "house_parts/part_mask.png"
    assert parts["model"] == "autopartgen" and parts["licence"] and parts["textured"] is False
    whole = trimesh.load(run / "house.glb", force="mesh")
    centre, half = whole.bounds.mean(axis=0), (whole.bounds[1] - whole.bounds[0]).max() / 2
    for name, path in parts["files"].items():
        glb = trimesh.load(run / path)
        assert list(glb.geometry) == [name]
        # In the whole's frame: the model's cube fitted round the whole, undone.
        assert np.all(np.abs(glb.bounds - centre) <= 1.03 * half)
    assert "house, part door:" in out and "house in parts:" in out


def test_a_name_in_parts_that_is_not_asked_for_or_a_wrong_bracket_is_one_sentence(tmp_path: Path, capsys) -> None:
    code, _, err, run = _generate(tmp_path, capsys, "house (door, chimney")
    assert code == 2 and "a bracket is not closed" in err and run is None


def test_names_in_parts_of_hours_are_refused_before_the_run_unless_accepted(tmp_path: Path, capsys,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A Generate of names in parts started with no time check (the parts command has one): on this project's CPU
    "lamp (shade, arm, base)" is some 14 hours. On a device whose probe reads a thousandth of a GFLOP/s, it is
    refused before any folder, the names and parts a stage of the whole job's estimate it names, unless accepted."""
    monkeypatch.setattr(costs, "probe", lambda device, dtype: throughput.Throughput("cpu", "float32", 1e-3))
    code, _, err, run = _generate(tmp_path, capsys, "house (chimney, door), chimney ()")
    assert code != 0 and run is None, err
    assert "this job would take hours: " in err and ", 2 names in up to 42 parts about " in err, err
    assert "--accept-long" in err, err


def test_parts_found_nowhere_leave_the_object_whole_and_say_so(tmp_path: Path, capsys) -> None:
    code, out, err, run = _generate(tmp_path, capsys, "house (zebra)")
    assert code == 0, err
    [record] = json.loads((run / "manifest.json").read_text())["records"]
    assert record["status"] == "done" and "parts" not in record
    assert "none of its parts (zebra) was found on its cut-out" in record["error"]["message"]
    assert "kept it whole, without parts" in err


def _painted_ball() -> trimesh.Trimesh:
    """A sphere red at its top, blue at its bottom, the colour turning smoothly between (glTF's axes: +Y up)."""
    ball = trimesh.creation.icosphere(subdivisions=4)
    v = ball.vertices
    uv = np.stack([np.arctan2(v[:, 0], v[:, 2]) / (2 * np.pi) + 0.5, v[:, 1] / 2 + 0.5], axis=1)
    up = np.linspace(1.0, 0.0, 64)[:, None] * np.ones((1, 64))   # the image's top row is v = 1, the top
    texture = np.stack([240 * up, np.full_like(up, 20), 240 * (1 - up)], axis=2).astype(np.uint8)
    material = trimesh.visual.material.PBRMaterial(baseColorTexture=Image.fromarray(texture))
    ball.visual = trimesh.visual.TextureVisuals(uv=uv, material=material)
    return ball


def test_each_part_takes_its_share_of_the_painted_whole_and_neighbours_agree_where_they_meet() -> None:
    whole = _painted_ball()
    centroids = whole.triangles_center
    top = whole.faces[centroids[:, 1] > 0.0]
    bottom = whole.faces[centroids[:, 1] <= 0.0]
    shares = {name: share_of(whole, whole.vertices, faces, name, CancelToken())
              for name, faces in (("top", top), ("bottom", bottom))}

    def colour_at(mesh: trimesh.Trimesh, points: np.ndarray) -> np.ndarray:
        # The triangle whose centre is nearest each point (fine-grained spheres: the one under it).
        triangle = np.linalg.norm(mesh.triangles_center[None] - points[:, None], axis=2).argmin(axis=1)
        bary = np.clip(trimesh.triangles.points_to_barycentric(mesh.triangles[triangle], points), 0, 1)
        bary /= bary.sum(axis=1, keepdims=True)
        uv = np.einsum("nk,nkd->nd", bary, mesh.visual.uv[mesh.faces[triangle]])
        image = np.asarray(mesh.visual.material.baseColorTexture.convert("RGB"), np.float64)
        rows = np.clip(((1 - uv[:, 1]) * image.shape[0]).astype(int), 0, image.shape[0] - 1)
        cols = np.clip((uv[:, 0] * image.shape[1]).astype(int), 0, image.shape[1] - 1)
        return image[rows, cols]

    up = np.array([[0.3, 0.9, 0.2], [-0.4, 0.8, -0.3]])
    assert np.all(colour_at(shares["top"], up / np.linalg.norm(up, axis=1, keepdims=True))[:, 0] > 180)  # red
    down = up * [1, -1, 1]
    assert np.all(colour_at(shares["bottom"], down / np.linalg.norm(down, axis=1, keepdims=True))[:, 2] > 180)
    # Where they meet (the vertices both parts hold): one colour, the whole's there.
    seam = whole.vertices[np.intersect1d(top.ravel(), bottom.ravel())][::7]
    assert len(seam) >= 8
    assert np.allclose(colour_at(shares["top"], seam), colour_at(shares["bottom"], seam), atol=30)
