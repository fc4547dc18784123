"""``generate --prompt`` (issue 76 items 1 and 5): the picture made from text, kept as the run's picture, then
the chain as for any picture; each bad input one sentence with nothing written, and a picture that holds none
of the names said per name with the picture kept.

On the command line in this process (``cli``, tests/backend/cli_inprocess.py) with the tiny models: the
grounding replica answers its fixed list (a house, a chimney, a door, trees, barrels...) whatever the
picture shows, so "barrel, house" are found and "unicorn, dragon" are not. Shapes at a coarse grid in one
step, untextured: the subject is the path from text to the objects, not the objects.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PIL import Image

from cli_inprocess import RunCli
from img23d_backend.editors.parts import editor_loader
from img23d_backend.editors.table import DEFAULT_EDITOR, EDITOR_ROWS
from img23d_backend.editors.text_prompt import PICTURE_TEMPLATE, picture_prompt
from img23d_backend.jobs.kinds.generate import GenerateRun
from img23d_backend.jobs.kinds.prompt_picture import check_memory, check_model
from img23d_backend.models.manager import ModelManager
from img23d_backend.models.preflight import Room
from img23d_backend.models.step_costs import refuse_long_job
from img23d_protocol import ErrorCode, GenerateRequest, JobOptions, ProtocolError, StepCosts

PROMPT = "a wooden barrel beside a small house"
QUICK = ("--models", "tiny", "--no-texture", "--octree-resolution", "32", "--steps", "1")


def _run_folder(out: Path) -> Path:
    [folder] = [path for path in out.iterdir() if path.is_dir()]
    return folder


def test_a_prompt_makes_the_picture_then_one_object_per_name_found(cli: RunCli, tmp_path: Path) -> None:
    """The issue's "Done when": the made picture and a GLB per name, the prompt in the manifest."""
    done = cli("generate", "--prompt", PROMPT, "--targets", "barrel, house", "--seed", "5", "--out", tmp_path, *QUICK)
    assert done.returncode == 0, done.stderr
    folder = _run_folder(tmp_path)
    assert folder.name.endswith("-wooden_barrel_beside")
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "finished" and "picture" in manifest["timings"]
    image = manifest["image"]
    assert image["source"] == "" and image["copy"] == "input.png" and image["original_size"] == [96, 96]
    assert image["prompt"] == {"prompt": PROMPT, "template": PICTURE_TEMPLATE, "model_text": picture_prompt(PROMPT),
                               "seed": 5, "size": [96, 96]}
    assert Image.open(folder / "input.png").size == (96, 96)
    assert {r["target"]: r["status"] for r in manifest["records"]} == {"barrel": "done", "house": "done"}
    assert (folder / "barrel.glb").is_file() and (folder / "house.glb").is_file()
    assert f"picture made from the prompt: {folder / 'input.png'}" in done.stdout
    assert f"barrel: {folder / 'barrel.glb'}" in done.stdout


def test_a_picture_that_holds_none_of_the_names_says_so_per_name_and_keeps_the_picture(cli: RunCli,
                                                                                       tmp_path: Path) -> None:
    done = cli("generate", "--prompt", "a unicorn and a dragon", "--targets", "unicorn, dragon", "--out", tmp_path,
               *QUICK)
    assert done.returncode == 1
    assert "'unicorn' was not found in the image" in done.stderr and "'dragon' was not found" in done.stderr
    assert ("error: none of the names was found in the image made from the prompt (input.png in the run folder): "
            "make another from another seed, or name what it shows [target_not_found]") in done.stderr
    folder = _run_folder(tmp_path)  # nothing lost: the picture and what the prompt was
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "failed" and manifest["image"]["prompt"]["prompt"] == "a unicorn and a dragon"
    assert Image.open(folder / "input.png").size == (96, 96)


@pytest.mark.parametrize("arguments, sentence", [
    (("--prompt", ""), "--prompt is empty: type what the picture should show"),
    (("--prompt", " \t\n "), "the prompt holds only spaces: type what the picture should show"),
    (("--prompt", "x" * 100_000), "the prompt is 100,000 characters; at most 2,000, as the text model reads no more"),
    (("--prompt", "a barrel\x1b[2J"), "the prompt contains a control character (U+001B); only line breaks and tabs "
                                      "may be in it"),
    (("picture.png", "--prompt", PROMPT), "both a picture and a prompt were given: a job starts from one, so send "
                                          "the picture or the prompt"),
    ((), "no picture and no prompt given: pick a picture, or type what the picture should show"),
    (("--prompt", PROMPT, "--picture-size", "1000"), "a picture of 1000 x 1000 pixels cannot be made: its side must "
                                                     "be a multiple of 16 from 256 to 2,048 (the nearest is 992)"),
    # --edit-size is the picture's side with a prompt: it was refused after the engine started, not naming it
    (("--prompt", PROMPT, "--edit-size", "1000"), "--edit-size 1000 with --prompt: a picture of 1000 x 1000 pixels "
                                                  "cannot be made: its side must be a multiple of 16 from 256 to "
                                                  "2,048 (the nearest is 992)"),
    (("--prompt", PROMPT, "--picture-size", "512", "--edit-size", "768"),
     "--picture-size and --edit-size both set the area the image editor paints at for a prompt: give one"),
    (("picture.png", "--picture-size", "512"), "--picture-size is the size of a picture made from --prompt; a picture "
                                               "given is read at its own size"),
])
def test_bad_input_is_one_sentence_and_writes_nothing(cli: RunCli, tmp_path: Path, arguments: tuple[str, ...],
                                                      sentence: str) -> None:
    out = tmp_path / "runs"
    done = cli("generate", *arguments, "--models", "tiny", "--out", out)
    assert done.returncode == 2
    assert done.stderr.strip() == f"error: {sentence}"
    assert not out.exists()


def test_a_box_outside_the_picture_to_be_made_is_refused_before_it_is_made(cli: RunCli, tmp_path: Path) -> None:
    """The picture's size is known before it is made: a box outside it was refused only after the picture (a kept
    run folder, a quarter of an hour later on a CPU)."""
    out = tmp_path / "runs"
    done = cli("generate", "--prompt", PROMPT, "--targets", "barrel", "--box", "barrel=0,0,500,500", "--picture-size",
               "256", "--models", "tiny", "--out", out)
    assert done.returncode != 0 and "the box of 'barrel' (0, 0, 500, 500) reaches past the picture, which is 256 x " \
        "256 pixels" in done.stderr, done.stderr
    assert not out.exists() or not any(path.is_dir() for path in out.iterdir())


def _request(**fields: object) -> GenerateRequest:
    return GenerateRequest(id="job", **fields)  # type: ignore[arg-type]


def test_the_job_checks_a_prompt_as_the_protocol_does_and_names_the_editor_once() -> None:
    prompt = _request(prompt=PROMPT, targets=[])
    GenerateRun.check_request(prompt)  # no picture needed
    with pytest.raises(ProtocolError) as both:
        GenerateRun.check_request(_request(prompt=PROMPT, image="picture.png"))
    assert both.value.message.startswith("both a picture and a prompt were given")
    with pytest.raises(ProtocolError) as side:
        GenerateRun.check_request(_request(prompt=PROMPT, options=JobOptions(edit_size=1000)))
    assert side.value.code is ErrorCode.BAD_REQUEST and "(the nearest is 992)" in side.value.message
    # The editor makes the picture, and completes hidden parts too unless that is never: one role either way.
    for complete in ("auto", "never"):
        used = GenerateRun.roles_used(_request(prompt=PROMPT, options=JobOptions(complete_hidden=complete)))
        assert used.count("editor") == 1
    assert "editor" not in GenerateRun.roles_used(_request(image="p.png", options=JobOptions(complete_hidden="never")))
    assert GenerateRun.folder_label(prompt) == "wooden barrel beside"
    assert GenerateRun.folder_label(_request(image="/pictures/cottage.png")) == "cottage"


def test_an_editor_that_does_not_make_pictures_refuses_a_prompt_before_anything_loads() -> None:
    other = next(name for name in EDITOR_ROWS if name != DEFAULT_EDITOR)

    class Manager:
        @staticmethod
        def spec(role: str) -> object:
            assert role == "editor"
            return EDITOR_ROWS[other].spec

    class Engine:
        manager = Manager()

    check_model(_request(image="p.png"), Engine())  # a picture's job needs no picture maker
    with pytest.raises(ProtocolError) as refused:
        check_model(_request(prompt=PROMPT), Engine())
    assert refused.value.message.startswith(f"the image editor {other} edits pictures but does not make one from text")


def test_a_prompt_whose_picture_the_machine_cannot_hold_is_refused_before_its_run_folder() -> None:
    """The job's memory check (before the run folder) asks the editor's placement for the picture's side: a
    picture's job does not, a prompt's does, at the side it asks for."""
    spec = EDITOR_ROWS[DEFAULT_EDITOR].spec

    class Engine:
        manager = ModelManager(torch.device("cpu"), budget_bytes=60 << 30)

        @staticmethod
        def total_room() -> Room:
            return Room(host=12 << 30)

    Engine.manager.register(spec, editor_loader(spec))
    check_memory(_request(image="p.png"), Engine())
    # A quarter of the area fits (its time, which this CPU's speed decides, accepted: this is about memory).
    check_memory(_request(prompt=PROMPT, options=JobOptions(edit_size=512, accept_long=True)), Engine())
    with pytest.raises(ProtocolError) as refused:
        check_memory(_request(prompt=PROMPT), Engine())
    assert refused.value.code is ErrorCode.OUT_OF_MEMORY and "(--edit-size 896 or less fits)" in refused.value.message


def test_a_prompt_without_completion_is_not_counted_as_completing_its_objects() -> None:
    """The editor is among a prompt's models (it makes the picture): the long-job check counts completion only
    where the job asks for it, not every object's because the editor is there."""
    costs = StepCosts(device="this CPU (test)", on_cpu=True, edit_pixels=1024 * 1024, completion_fixed_s=3600.0,
                      completion_per_mp_s=0.0, completion_per_mp2_s=0.0)
    never = _request(prompt=PROMPT, targets=["barrel", "house"], options=JobOptions(complete_hidden="never"))
    refuse_long_job(costs, GenerateRun.roles_used(never), never)
    always = _request(prompt=PROMPT, targets=["barrel", "house"], options=JobOptions(complete_hidden="always"))
    with pytest.raises(ProtocolError) as refused:
        refuse_long_job(costs, GenerateRun.roles_used(always), always)
    assert refused.value.code is ErrorCode.LONG_JOB_NOT_ACCEPTED
