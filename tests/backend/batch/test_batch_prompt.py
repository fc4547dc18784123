"""A batch list's lines that give a prompt instead of a picture (issue 76 item 3): read, planned and said.

What such a line makes is the job's (``generate --prompt``'s, tests/backend/commands and jobs); these read the list:
a prompt's line becomes a prompt's item with its names, a line with a picture and a prompt both, neither, or a prompt
that is not one, is that line's failure in one sentence naming it, and the other lines still plan. Such a batch end to
end: here on a local worker (the tiny models, untextured), and on Ray in test_batch_ray.py (the session's one cluster).
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from batch_files import FAST_FLAGS, batch, manifests, pictures, record
from img23d_backend.batch.driver import BatchEvent, plan
from img23d_backend.batch.inputs import prompt_hash, read_inputs
from img23d_backend.batch.progress import BatchPrinter
from img23d_backend.batch.settings import BatchSettings
from img23d_backend.session import Models
from img23d_protocol import ErrorCode, JobOptions, ProtocolError


def _list(folder: Path, name: str, text: str) -> str:
    pictures(folder, 1)
    (folder / name).write_text(text, encoding="utf-8")
    return str(folder / name)


def test_a_prompts_line_in_jsonl_and_csv_is_a_prompts_item_with_its_names(tmp_path: Path) -> None:
    jsonl = _list(tmp_path, "list.jsonl", '{"prompt": "a wooden barrel", "names": ["barrel"]}\n'
                                          '{"image": "picture-0.png", "names": "house"}\n'
                                          '{"prompt": "a small house"}\n')
    csv = _list(tmp_path, "list.csv", 'prompt,names\n"a barrel, then a house","barrel, house"\n')
    mixed = _list(tmp_path, "mixed.csv", "image,prompt,names\npicture-0.png,,house\n,a red chair,chair\n")
    items = read_inputs([jsonl, csv, mixed])
    assert [(i.image.name if i.image else None, i.prompt, i.names, i.problem) for i in items] == [
        (None, "a wooden barrel", ["barrel"], ""), ("picture-0.png", "", ["house"], ""), (None, "a small house", None, ""),
        (None, "a barrel, then a house", ["barrel", "house"], ""),  # the prompt's comma is not a name's
        ("picture-0.png", "", ["house"], ""), (None, "a red chair", ["chair"], "")]


@pytest.mark.parametrize("line, sentence", [
    ('{"prompt": "a barrel", "image": "picture-0.png"}',
     "list.jsonl line 2: both a picture and a prompt were given: a job starts from one, so send the picture or "
     "the prompt"),
    ('{"names": "barrel"}', "list.jsonl line 2: no picture and no prompt given: pick a picture, or type what the "
                            "picture should show"),
    ('{"prompt": " \\n "}', "list.jsonl line 2: the prompt holds only spaces: type what the picture should show"),
    ('{"prompt": ""}', "list.jsonl line 2: no picture and no prompt given"),
    ('{"prompt": "a\\u0007barrel"}', "list.jsonl line 2: the prompt contains a control character (U+0007)"),
    ('{"prompt": 3}', "list.jsonl line 2: prompt must be a string"),
    ('{"prompt": "a barrel", "names": "auto"}', 'list.jsonl line 2: "auto" reads a picture there is not yet'),
    ('{"prompt": "a chair", "names": ["chair"], "views": {"chair": {"back": "picture-0.png"}}}',
     "list.jsonl line 2: views are more pictures of a picture's names: a prompt's line takes none"),
])
def test_a_bad_prompts_line_fails_alone_in_one_sentence(tmp_path: Path, line: str, sentence: str) -> None:
    listed = _list(tmp_path, "list.jsonl", f'{{"prompt": "a wooden barrel"}}\n{line}\n{{"image": "picture-0.png"}}\n')
    first, bad, last = read_inputs([listed])  # before: a line without "image" refused the whole list
    assert (first.prompt, first.problem, last.image.name, last.problem) == ("a wooden barrel", "", "picture-0.png", "")
    assert bad.problem.startswith(sentence) and bad.problem.count(". ") == 0, bad.problem


def test_a_csv_line_with_a_picture_and_a_prompt_fails_alone(tmp_path: Path) -> None:
    listed = _list(tmp_path, "list.csv", "image,prompt\npicture-0.png,a barrel\n,\n,a house\n")
    both, house = read_inputs([listed])  # the empty row is skipped, as before
    assert both.problem.startswith("list.csv line 2: both a picture and a prompt were given")
    assert (house.prompt, house.problem) == ("a house", "")


def test_the_plan_keys_a_prompt_by_its_text_runs_it_once_and_fails_a_bad_line_as_written(tmp_path: Path) -> None:
    listed = _list(tmp_path, "list.jsonl", '{"prompt": "a wooden barrel", "names": "barrel"}\n'
                                           '{"prompt": "a wooden barrel", "image": "picture-0.png"}\n'
                                           '{"prompt": "a wooden barrel", "names": "barrel"}\n'
                                           '{"prompt": "a wooden barrel", "names": "house"}\n')
    record = plan(BatchSettings(inputs=[listed], out=tmp_path / "out")).record
    made, refused, other = record.entries
    assert (made.image, made.prompt, made.sha256, made.status) == ("", "a wooden barrel", prompt_hash("a wooden barrel"),
                                                                   "pending")
    assert other.names == ["house"] and other.key != made.key  # other names: other work
    assert (refused.status, refused.where, refused.error["code"]) == ("failed", "list.jsonl line 2", "bad_request")
    [same] = record.same
    assert same.message == "list.jsonl line 3: the same prompt and names as list.jsonl line 1: run once"

    shown = io.StringIO()
    printer = BatchPrinter(shown, io.StringIO())
    printer(BatchEvent("start", counts=record.counts(), workers=1, same=record.same, refused=1))
    printer(BatchEvent("picture", refused, 1, record.counts()))
    said = shown.getvalue().splitlines()
    assert said[0] == ("batch: 3 picture(s); 0 already done, 0 failed before (kept: --retry-failed runs them again), "
                       "1 refused before running; 2 to run on 1 worker(s)")
    assert said[2].endswith(" FAILED  list.jsonl line 2: both a picture and a prompt were given: a job starts from "
                            "one, so send the picture or the prompt [bad_request]"), said


def test_the_commands_auto_names_fail_a_prompts_line_alone_in_one_sentence(tmp_path: Path) -> None:
    """--targets auto beside a prompt's line without names of its own: the line ran and failed as "no image given"."""
    listed = _list(tmp_path, "list.jsonl", '{"prompt": "a wooden barrel"}\n{"image": "picture-0.png"}\n')
    prompt, picture = plan(BatchSettings(inputs=[listed], out=tmp_path / "out", names="auto")).record.entries
    assert (prompt.status, prompt.error["message"]) == ("failed", "list.jsonl line 1: --targets auto reads a picture "
                                                                  "there is not yet: a prompt's line names what to make "
                                                                  "(or none: the prompt's object is one object)")
    assert (picture.status, picture.names) == ("pending", "auto")


def test_what_every_line_would_fail_on_is_one_sentence_before_the_batch_starts(tmp_path: Path) -> None:
    """Issue 88: --edit-size 300 with prompt lines (no picture side), --symmetry x for a shape model without labels and
    an image editor that makes no pictures each started the workers and failed every line alone in the same sentence;
    a fraction for a whole number from the Python API likewise."""
    listed = _list(tmp_path, "list.jsonl", '{"prompt": "a wooden barrel"}\n{"image": "picture-0.png"}\n'
                                           '{"prompt": "a small house"}\n')
    pictures_only = _list(tmp_path, "pictures.jsonl", '{"image": "picture-0.png"}\n')

    def refused(inputs: str, options: JobOptions = JobOptions(), models: Models = Models()) -> str:
        with pytest.raises(ProtocolError) as caught:
            plan(BatchSettings(inputs=[inputs], out=tmp_path / "out", options=options, models=models))
        assert caught.value.code is ErrorCode.BAD_REQUEST
        return caught.value.message

    assert refused(listed, JobOptions(edit_size=300)) == (
        "a picture of 300 x 300 pixels cannot be made: its side must be a multiple of 16 from 256 to 2,048 (the "
        "nearest is 304) (a prompt's picture is made at the edit size, --edit-size); every prompt's line (list.jsonl "
        "line 1 and 1 more) would fail on it, so the batch did not start")
    assert refused(listed, models=Models(editor="qwen-image-edit-2511")).startswith(
        "the image editor qwen-image-edit-2511 edits pictures but does not make one from text")
    assert refused(pictures_only, JobOptions(symmetry="x")).startswith("symmetry and sharpness need a shape model")
    assert refused(pictures_only, JobOptions(variations=2.5)).startswith("option variations=2.5 is not a whole number")
    assert not tmp_path.joinpath("out").exists()
    # A picture's line completes its crops at any edit size in range: a list of pictures plans.
    assert [e.status for e in plan(BatchSettings(inputs=[pictures_only], out=tmp_path / "out",
                                                 options=JobOptions(edit_size=300))).record.entries] == ["pending"]


@pytest.mark.process  # its subject is the batch command, as test_batch.py's
@pytest.mark.lane_b   # with test_batch.py's, for the lanes' balance
def test_a_local_batch_makes_a_prompts_picture_says_its_terms_first_and_fails_a_bad_line_alone(
        backend_env: dict[str, str], tmp_path: Path) -> None:
    # Issue 76 items 3 and 4 on a local worker (run by hand only before): the prompt's run folder holds the made
    # picture and its manifest the prompt; FLUX.2 [klein]'s licence (and download) is said once, before the batch's
    # first line, as generate --prompt says it; a line with a picture and a prompt both fails alone.
    listed = _list(tmp_path, "list.jsonl", '{"prompt": "a wooden barrel", "names": "barrel"}\n'
                                           '{"prompt": "a wooden barrel", "image": "picture-0.png"}\n')
    out = tmp_path / "out"
    done = batch(backend_env, listed, "--out", str(out), *FAST_FLAGS)
    assert done.returncode == 3, done.stderr  # the bad line failed; the prompt's was made
    made, refused = record(out)["pictures"]
    assert (made["status"], made["prompt"], made["meshes"]) == ("done", "a wooden barrel", 1), made
    assert manifests(out)[made["run_dir"]]["image"]["prompt"]["prompt"] == "a wooden barrel"
    assert (out / made["run_dir"] / "input.png").is_file()
    assert (refused["status"], refused["where"]) == ("failed", "list.jsonl line 2")
    assert refused["error"]["message"].startswith("list.jsonl line 2: both a picture and a prompt were given")
    said = done.stdout.splitlines()
    # the model the picture is made by and its terms: the tiny set's replica here (its licence: FLUX.2 [klein] 4B's, in
    # tests/backend/commands/test_picture_terms.py)
    assert said[0].startswith("the picture is made from the prompt by tiny/flux2-klein-4b ("), said
    assert said[1].startswith("batch: 2 picture(s)") and done.stdout.count("made from the prompt") == 1, said
