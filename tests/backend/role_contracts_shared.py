"""The grounding, matting and depth models' contracts (``role_contracts`` says what every role's holds): the
models every job uses, each model inheriting its role's tests by giving its choice name and the root of its
tiny replica (``grounding_subject``, ``matting_subject``, ``depth_subject``: class-scoped fixtures).

Each is held to what a job relies on: loaded through the room's driver into the model manager (the spec's model's
code, found through the room's table), its licence the protocol's row's, its work's answer in the shape the chain
reads, a cancel a cancel."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from img23d_protocol import (DEPTH_MODELS, GROUNDING_MODELS, MATTING_MODELS, ErrorCode, ProtocolError,
                             model_licence)

from img23d_backend.depth.driver import depth_loader, estimate_depth
from img23d_backend.depth.table import DEPTH_ROWS
from img23d_backend.env.job_control import CancelToken
from img23d_backend.grounding.driver import GroundingOptions, ground, grounding_loader, parse_answer
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


def _manager(spec: ModelSpec, loader) -> ModelManager:
    manager = ModelManager(torch.device("cpu"), budget_bytes=LARGE)
    manager.register(spec, loader(spec))
    return manager


def _cancelled() -> CancelToken:
    token = CancelToken()
    token.cancel()
    return token


def _licence_is_the_rows(spec: ModelSpec, real: ModelSpec, row_repo: str) -> None:
    """The real model's licence is its protocol row's repository's, and its replica's licence row replicates a
    model under that licence (the grounding model's sizes share one replica, the smallest's layout)."""
    licence = model_licence(real.repo_id)
    assert row_repo == real.repo_id and licence is not None
    assert spec.licence is not None and spec.licence.replicates
    replicated = model_licence(spec.licence.replicates)
    assert replicated is not None and replicated.licence.key == licence.licence.key


# --- matting --------------------------------------------------------------------------------------------------

class MattingContract:
    @pytest.fixture(scope="class")
    @classmethod
    def matting_spec(cls, matting_subject: SharedSubject) -> ModelSpec:
        return MATTING_ROWS[matting_subject.name].tiny_spec(matting_subject.root)

    def test_it_loads_through_the_production_loader(self, matting_subject: SharedSubject,
                                                   matting_spec: ModelSpec) -> None:
        manager = _manager(matting_spec, matting_loader)
        with manager.use("matting") as model:
            assert model.code.name == matting_subject.name
            assert manager.snapshot()["models"]["matting"]["tier"] == "device"

    def test_it_cuts_a_crop_out_at_the_crops_size(self, matting_spec: ModelSpec) -> None:
        crop = Image.new("RGB", (40, 32), (240, 240, 240))
        crop.paste((30, 30, 30), (10, 8, 30, 24))
        with _manager(matting_spec, matting_loader).use("matting") as model:
            [cutout] = matte(model, [crop], batch_size=1, cancel=CancelToken(), progress=lambda *a: None,
                             input_size=input_side(matting_spec))
        assert not isinstance(cutout, UnusableMatte)
        assert cutout.mode == "RGBA" and cutout.size == crop.size

    def test_it_states_its_licence(self, matting_subject: SharedSubject, matting_spec: ModelSpec) -> None:
        _licence_is_the_rows(matting_spec, MATTING_ROWS[matting_subject.name].spec,
                             MATTING_MODELS[matting_subject.name].repo_id)

    def test_a_machine_too_small_is_refused_in_one_sentence(self, matting_subject: SharedSubject) -> None:
        real = MATTING_ROWS[matting_subject.name].spec
        with pytest.raises(ProtocolError) as refused:
            check_matting(real, "cuda", preflight.Room(host=1 << 30, device=1 << 20, shared=False))
        assert refused.value.code is ErrorCode.OUT_OF_MEMORY and one_sentence(refused.value.message)

    def test_a_cancel_stops_it_with_the_cancel(self, matting_spec: ModelSpec) -> None:
        with _manager(matting_spec, matting_loader).use("matting") as model, pytest.raises(ProtocolError) as stopped:
            matte(model, [Image.new("RGB", (8, 8))], batch_size=1, cancel=_cancelled(), progress=lambda *a: None,
                  input_size=input_side(matting_spec))
        assert stopped.value.code is ErrorCode.CANCELLED


# --- grounding ------------------------------------------------------------------------------------------------

class GroundingContract:
    @pytest.fixture(scope="class")
    @classmethod
    def grounding_spec(cls, grounding_subject: SharedSubject) -> ModelSpec:
        return GROUNDING_ROWS[grounding_subject.name].tiny_spec(grounding_subject.root)

    def test_it_loads_and_answers_with_boxes_the_room_reads(self, grounding_subject: SharedSubject,
                                                          grounding_spec: ModelSpec) -> None:
        picture = Image.open(HOUSE).convert("RGB")
        manager = _manager(grounding_spec, grounding_loader)
        with manager.use("grounding") as model:
            assert model.code.name == grounding_subject.name
            answer = ground(model, picture, ["house"], options=GroundingOptions.from_spec(grounding_spec.options),
                            cancel=CancelToken())
        assert 0 < answer.tokens <= answer.budget and not answer.cut_off
        assert parse_answer(answer.text, *picture.size).detections   # boxes, as the chain reads them

    def test_it_states_its_licence(self, grounding_subject: SharedSubject, grounding_spec: ModelSpec) -> None:
        _licence_is_the_rows(grounding_spec, GROUNDING_ROWS[grounding_subject.name].spec,
                             GROUNDING_MODELS[grounding_subject.name].repo_id)

    def test_a_cancel_stops_it_with_the_cancel(self, grounding_spec: ModelSpec) -> None:
        with _manager(grounding_spec, grounding_loader).use("grounding") as model, \
                pytest.raises(ProtocolError) as stopped:
            ground(model, Image.new("RGB", (64, 64)), ["house"], options=GroundingOptions(max_new_tokens=64),
                   cancel=_cancelled())
        assert stopped.value.code is ErrorCode.CANCELLED


# --- depth ----------------------------------------------------------------------------------------------------

class DepthContract:
    @pytest.fixture(scope="class")
    @classmethod
    def depth_spec(cls, depth_subject: SharedSubject) -> ModelSpec:
        return DEPTH_ROWS[depth_subject.name].tiny_spec(depth_subject.root)

    def test_it_loads_and_maps_the_whole_picture(self, depth_subject: SharedSubject, depth_spec: ModelSpec) -> None:
        manager = _manager(depth_spec, depth_loader)
        with manager.use("depth") as model:
            assert model.code.name == depth_subject.name
            depth = estimate_depth(model, Image.new("RGB", (80, 50), (90, 120, 200)), CancelToken())
        assert depth.values.shape == (50, 80) and np.isfinite(depth.values).all()

    def test_it_states_its_licence(self, depth_subject: SharedSubject, depth_spec: ModelSpec) -> None:
        _licence_is_the_rows(depth_spec, DEPTH_ROWS[depth_subject.name].spec, DEPTH_MODELS[depth_subject.name].repo_id)

    def test_a_cancel_stops_it_with_the_cancel(self, depth_spec: ModelSpec) -> None:
        with _manager(depth_spec, depth_loader).use("depth") as model, pytest.raises(ProtocolError) as stopped:
            estimate_depth(model, Image.new("RGB", (16, 16)), _cancelled())
        assert stopped.value.code is ErrorCode.CANCELLED
