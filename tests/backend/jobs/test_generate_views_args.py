"""``generate --view``'s wrong values are one sentence each, before anything is loaded or written; a
request naming views of a name the job has not is refused before its run folder; and the scaling of a
view to the front's height and baseline, alone (issue 55 items 1 and 2)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from testdata import HOUSE
from img23d_backend.commands import cli, options
from img23d_backend.jobs import Engine, EngineSettings, Job
from img23d_backend.catalog import tiny_model_set
from img23d_backend.views.given import object_rows, to_front_scale
from img23d_protocol import ErrorCode, GenerateRequest, ProtocolError


@pytest.fixture
def view(tmp_path: Path) -> Path:
    path = tmp_path / "back.png"
    Image.new("RGB", (32, 32), (10, 20, 30)).save(path)
    return path


def _generate(tmp_path: Path, *args: str) -> int:
    return cli.main(["generate", str(HOUSE), "--models", "tiny", "--out", str(tmp_path / "runs"), *args])


@pytest.mark.parametrize("value, sentence", [
    ("chair:top={view}", "a view of 'chair' names the side 'top': sides are left, back, right"),
    ("chair:front={view}", "a view of 'chair' is named 'front': the front is the job's own picture"),
    ("chair={view}", "must be NAME:SIDE=PATH (SIDE one of left, back, right), e.g. chair:back=back.jpg"),
    ("chair:back=", "must be NAME:SIDE=PATH"),
])
def test_a_wrong_form_or_side_is_one_sentence(tmp_path: Path, view: Path, capsys, value: str, sentence: str) -> None:
    with pytest.raises(SystemExit) as stopped:
        _generate(tmp_path, "--targets", "chair", "--view", value.format(view=view))
    assert stopped.value.code == options.EXIT_USAGE
    err = capsys.readouterr().err
    assert sentence in err and "Traceback" not in err
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("targets, views, sentence", [
    ("chair", ["lamp:back={view}"], "there are views of 'lamp', which is not one of the names (chair): add the name "
                                    "or remove its views"),
    ("chair", ["chair:back={missing}"], "the back view of 'chair': no file at {missing}"),
    ("chair", ["chair:left={folder}"], "the left view of 'chair': {folder} is not a file"),
    ("chair, lamp", ["chair:back={view}", "Chair:BACK={view}"], "--view gives 'Chair' two back pictures"),
    ("auto", ["chair:back={view}"], "--view needs the names in --targets, not 'auto'"),
])
def test_a_wrong_name_file_or_twice_given_side_is_one_sentence(tmp_path: Path, view: Path, capsys, targets: str,
                                                               views: list[str], sentence: str) -> None:
    where = {"view": view, "missing": tmp_path / "gone.png", "folder": tmp_path}
    arguments = [part for value in views for part in ("--view", value.format(**where))]
    assert _generate(tmp_path, "--targets", targets, *arguments) == options.EXIT_USAGE
    err = capsys.readouterr().err.strip()
    assert err == f"error: {sentence.format(**where)}" or (err.startswith("error: ") and
                                                           sentence.format(**where) in err), err
    assert "\n" not in err and not (tmp_path / "runs").exists()


def test_views_of_a_name_the_job_has_not_are_refused_before_its_run_folder(tiny_root: Path, tmp_path: Path,
                                                                          view: Path) -> None:
    engine = Engine(EngineSettings(models=tiny_model_set(tiny_root), runs_dir=tmp_path / "runs", device="cpu"))
    request = GenerateRequest(id="x", image=str(HOUSE), targets=["chimney"], views={"barrel": {"back": str(view)}})
    with pytest.raises(ProtocolError, match="there are views of 'barrel', which is not one of the names") as caught:
        engine.run(request, Job(id="x", emit=lambda e: None))
    assert caught.value.code is ErrorCode.BAD_REQUEST
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def _object(size: tuple[int, int], rect: tuple[int, int, int, int]) -> Image.Image:
    picture = Image.new("RGBA", size, (0, 0, 0, 0))
    ImageDraw.Draw(picture).rectangle(rect, fill=(255, 255, 255, 255))
    return picture


def test_a_view_taken_from_further_away_comes_to_the_fronts_height_and_baseline() -> None:
    front = _object((300, 400), (100, 50, 199, 349))     # 300 rows tall, standing on row 349
    far = _object((1000, 1000), (450, 600, 499, 699))    # the same object at a third of the size: 100 rows
    box = object_rows(far)
    scaled = to_front_scale(far, box, front.size, object_rows(front))
    assert scaled.size == front.size and scaled.mode == "RGBA"
    assert object_rows(scaled) == (75, 50, 225, 350)     # 300 rows (150 wide), on the front's baseline, centred


def test_a_view_wider_than_the_fronts_canvas_grows_it_on_both_sides() -> None:
    front = _object((100, 200), (40, 20, 59, 179))       # a thin object, 160 rows
    wide = _object((400, 200), (0, 100, 399, 139))       # 40 rows, ten times as wide
    scaled = to_front_scale(wide, object_rows(wide), front.size, object_rows(front))
    assert scaled.height == front.height and scaled.width == 1600
    x0, y0, x1, y1 = object_rows(scaled)
    assert (y0, y1) == (20, 180) and x1 - x0 == 1600
    assert abs((x0 + x1) / 2 - scaled.width / 2) <= 1    # the front's canvas stays in the middle of it
