"""The grounding, matting and depth models' contracts (``role_contracts`` says what every role's holds): the
models every job uses, each model inheriting its role's tests by giving its choice name and the root of its
tiny replica (``subject``, ``subject``, ``subject``: class-scoped fixtures).

Each is held to what a job relies on: loaded through the room's driver into the model manager (the spec's model's
code, found through the room's table), its licence the protocol's row's, its work's answer in the shape the chain
reads (a grounding model's: labelled boxes in the pixels of the picture it was given, whatever picture), a cancel a
cancel."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image
from img23d_protocol import (DEPTH_MODELS, GROUNDING_MODELS, MATTING_MODELS, ErrorCode, ProtocolError,
                             model_licence)

from img23d_backend.depth.driver import depth_loader, estimate_depth
from img23d_backend.depth.table import DEPTH_ROWS
from img23d_backend.env.job_control import CancelToken
from img23d_backend.grounding.driver import GroundingAnswer, GroundingOptions, find, grounding_loader, name_objects
from img23d_backend.grounding.table import GROUNDING_ROWS
from img23d_backend.matting.driver import UnusableMatte, matte, matting_loader
from img23d_backend.matting.memory import check_matting
from img23d_backend.matting.table import MATTING_ROWS, input_side
from img23d_backend.models import preflight
from img23d_backend.models.manager import ModelManager
from img23d_backend.models.specs import ModelSpec
from role_contracts import LARGE, one_sentence
from testdata import HOUSE


@dataclass(frozen=True)
class SharedSubject:
    name: str     # its choice name in its room's table
    root: Path    # the root its tiny replica is under
    picture: Path = HOUSE                 # a grounding model's: a picture with something it finds,
    names: tuple[str, ...] = ("house",)   # and what it finds there (the first is in it)


def _manager(spec: ModelSpec, loader) -> ModelManager:
    manager = ModelManager(torch.device("cpu"), budget_bytes=LARGE)
    manager.register(spec, loader(spec))
    return manager


def _stops_with_the_cancel(spec: ModelSpec, loader, work) -> None:
    """``work(model, cancel)`` on the loaded model with a cancelled token raises the cancel, nothing else."""
    token = CancelToken()
    token.cancel()
    with _manager(spec, loader).use(spec.role) as model, pytest.raises(ProtocolError) as stopped:
        work(model, token)
    assert stopped.value.code is ErrorCode.CANCELLED


def _licence_is_the_rows(spec: ModelSpec, real: ModelSpec, row_repo: str) -> None:
    """The real model's licence is its protocol row's repository's, and its replica's licence row replicates a
    model under that licence (the grounding model's sizes share one replica, the smallest's layout)."""
    licence = model_licence(real.repo_id)
    assert row_repo == real.repo_id and licence is not None
    assert spec.licence is not None and spec.licence.replicates
    replicated = model_licence(spec.licence.replicates)
    assert replicated is not None and replicated.licence.key == licence.licence.key


class _RoomContract:
    """What each role's contract is given: its ``subject`` (a class-scoped fixture of the test's), and the spec of
    the subject's tiny replica, from the room's ``rows``."""

    rows: Any

    @pytest.fixture(scope="class")
    @classmethod
    def spec(cls, subject: SharedSubject) -> ModelSpec:
        return cls.rows[subject.name].tiny_spec(subject.root)


# --- matting --------------------------------------------------------------------------------------------------

class MattingContract(_RoomContract):
    rows = MATTING_ROWS

    def test_it_states_its_licence(self, subject: SharedSubject, spec: ModelSpec) -> None:
        _licence_is_the_rows(spec, MATTING_ROWS[subject.name].spec,
                             MATTING_MODELS[subject.name].repo_id)

    def test_it_loads_through_the_production_loader(self, subject: SharedSubject,
                                                   spec: ModelSpec) -> None:
        manager = _manager(spec, matting_loader)
        with manager.use("matting") as model:
            assert model.code.name == subject.name
            assert manager.snapshot()["models"]["matting"]["tier"] == "device"

    def test_it_cuts_a_crop_out_at_the_crops_size(self, spec: ModelSpec) -> None:
        crop = Image.new("RGB", (40, 32), (240, 240, 240))
        crop.paste((30, 30, 30), (10, 8, 30, 24))
        with _manager(spec, matting_loader).use("matting") as model:
            [cutout] = matte(model, [crop], batch_size=1, cancel=CancelToken(), progress=lambda *a: None,
                             input_size=input_side(spec))
        assert not isinstance(cutout, UnusableMatte)
        assert cutout.mode == "RGBA" and cutout.size == crop.size

    def test_a_machine_too_small_is_refused_in_one_sentence(self, subject: SharedSubject) -> None:
        real = MATTING_ROWS[subject.name].spec
        with pytest.raises(ProtocolError) as refused:
            check_matting(real, "cuda", preflight.Room(host=1 << 30, device=1 << 20, shared=False))
        assert refused.value.code is ErrorCode.OUT_OF_MEMORY and one_sentence(refused.value.message)

    def test_a_cancel_stops_it_with_the_cancel(self, spec: ModelSpec) -> None:
        _stops_with_the_cancel(spec, matting_loader, lambda model, cancel: matte(
            model, [Image.new("RGB", (8, 8))], batch_size=1, cancel=cancel, progress=lambda *a: None,
            input_size=input_side(spec)))


# --- grounding ------------------------------------------------------------------------------------------------

def _in_picture(answer: GroundingAnswer, size: tuple[int, int]) -> None:
    """Every box of ``answer`` labelled and inside a picture of ``size`` pixels."""
    assert isinstance(answer, GroundingAnswer) and answer.detections
    for detection in answer.detections:
        x0, y0, x1, y1 = detection.box
        assert isinstance(detection.label, str) and detection.label.strip()
        assert 0 <= x0 < x1 <= size[0] and 0 <= y0 < y1 <= size[1], (detection, size)


class GroundingContract(_RoomContract):
    rows = GROUNDING_ROWS

    def test_it_finds_a_name_in_the_pixels_of_the_picture_it_is_given(self, subject: SharedSubject,
                                                                      spec: ModelSpec) -> None:
        """The same picture at twice its size: the name found, each box in that picture's pixels (twice as far)."""
        picture = Image.open(subject.picture).convert("RGB")
        twice = picture.resize((picture.width * 2, picture.height * 2), Image.Resampling.NEAREST)
        names, options = list(subject.names), GroundingOptions.from_spec(spec.options)
        with _manager(spec, grounding_loader).use("grounding") as model:
            assert model.code.name == subject.name
            found, found_twice = (find(model, shown, names, options=options, cancel=CancelToken())
                                  for shown in (picture, twice))
        for answer, shown in ((found.answer, picture), (found_twice.answer, twice)):
            _in_picture(answer, shown.size)
            assert answer.tokens <= answer.budget and not answer.cut_off
        first, first_twice = found.matches[0], found_twice.matches[0]   # the first name's boxes, largest first
        assert first.detections and first_twice.detections, f"{names[0]!r} was not found"
        box, box_twice = first.detections[0].box, first_twice.detections[0].box
        assert box_twice == pytest.approx(tuple(2 * v for v in box), abs=2.0)

    def test_it_names_the_objects_it_sees(self, subject: SharedSubject, spec: ModelSpec) -> None:
        picture = Image.open(subject.picture).convert("RGB")
        with _manager(spec, grounding_loader).use("grounding") as model:
            answer = name_objects(model, picture, options=GroundingOptions.from_spec(spec.options),
                                  cancel=CancelToken())
        _in_picture(answer, picture.size)

    def test_it_states_its_licence(self, subject: SharedSubject, spec: ModelSpec) -> None:
        _licence_is_the_rows(spec, GROUNDING_ROWS[subject.name].spec,
                             GROUNDING_MODELS[subject.name].repo_id)

    def test_a_cancel_stops_it_with_the_cancel(self, subject: SharedSubject, spec: ModelSpec) -> None:
        _stops_with_the_cancel(spec, grounding_loader, lambda model, cancel: find(
            model, Image.new("RGB", (64, 64)), list(subject.names), options=GroundingOptions(max_new_tokens=64),
            cancel=cancel))


# --- depth ----------------------------------------------------------------------------------------------------

class DepthContract(_RoomContract):
    rows = DEPTH_ROWS

    def test_it_loads_and_maps_the_whole_picture(self, subject: SharedSubject, spec: ModelSpec) -> None:
        manager = _manager(spec, depth_loader)
        with manager.use("depth") as model:
            assert model.code.name == subject.name
            depth = estimate_depth(model, Image.new("RGB", (80, 50), (90, 120, 200)), CancelToken())
        assert depth.values.shape == (50, 80) and np.isfinite(depth.values).all()

    def test_it_states_its_licence(self, subject: SharedSubject, spec: ModelSpec) -> None:
        _licence_is_the_rows(spec, DEPTH_ROWS[subject.name].spec, DEPTH_MODELS[subject.name].repo_id)

    def test_a_cancel_stops_it_with_the_cancel(self, spec: ModelSpec) -> None:
        _stops_with_the_cancel(spec, depth_loader,
                               lambda model, cancel: estimate_depth(model, Image.new("RGB", (16, 16)), cancel))
