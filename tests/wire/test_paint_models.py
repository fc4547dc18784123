"""The paint models' kinds: one table (protocol) that the backend, the command line and the add-on read."""

from __future__ import annotations

import pytest

from img23d_protocol import (DEFAULT_PAINT_MODEL, PAINT_MODELS, ErrorCode, JobOptions, ProtocolError,
                             describe_default_paint_steps, paint_model_kind)


def test_the_turbo_model_is_the_default_and_runs_10_steps_the_2_0_model_30() -> None:
    # Upstream: the turbo pipeline's ten fixed timesteps; the 2.0 pipeline's 30 steps.
    assert DEFAULT_PAINT_MODEL == "2.0-turbo"
    assert {name: (kind.steps, kind.turbo) for name, kind in PAINT_MODELS.items()} == {
        "2.0-turbo": (10, True), "2.0": (30, False)}


def test_an_explicit_value_wins_up_to_the_models_most_and_zero_means_its_own() -> None:
    turbo, older = paint_model_kind("2.0-turbo"), paint_model_kind("2.0")
    assert turbo.steps_for(0) == 10 and turbo.steps_for(4) == 4
    assert turbo.steps_for(50) == 30  # its timesteps come from a 30-point grid
    assert older.steps_for(0) == 30 and older.steps_for(50) == 50


def test_the_default_job_asks_for_the_paint_models_own_steps() -> None:
    options = JobOptions()
    assert options.paint_steps == 0
    options.validate()
    with pytest.raises(ProtocolError, match="the paint model's own"):
        JobOptions.from_dict({"paint_steps": -1})


def test_the_texture_sync_is_on_unless_a_job_turns_it_off() -> None:
    assert JobOptions().texture_sync is True
    assert JobOptions.from_dict({"texture_sync": False}).texture_sync is False
    with pytest.raises(ProtocolError, match="texture_sync"):
        JobOptions.from_dict({"texture_sync": 0})   # a number is not a yes or no


def test_an_unknown_paint_model_is_a_bad_request_naming_the_choices() -> None:
    with pytest.raises(ProtocolError) as excinfo:
        paint_model_kind("2.1")
    assert excinfo.value.code is ErrorCode.BAD_REQUEST and "2.0-turbo" in excinfo.value.message
    assert describe_default_paint_steps() == "2.0-turbo 10, 2.0 30"
