"""The shape models' kinds: one table (protocol) that the backend, the command line and the add-on read."""

from __future__ import annotations

import pytest

from img23d_protocol import (SHAPE_MODELS, TINY_SHAPE_MODEL, ErrorCode, JobOptions, ProtocolError,
                             describe_default_steps, shape_model_kind)


def test_turbo_models_run_5_steps_with_the_guidance_embedded_the_others_30_with_classifier_free() -> None:
    # Upstream's app: 5 steps for the turbo subfolders, 30 otherwise.
    real = {name: (kind.steps, kind.embedded_guidance) for name, kind in SHAPE_MODELS.items()
            if name != TINY_SHAPE_MODEL}
    assert real == {"2mini": (30, False), "2mini-turbo": (5, True), "2.0": (30, False), "2.0-turbo": (5, True)}


def test_the_tiny_replica_has_its_own_entry_with_few_steps() -> None:
    tiny = SHAPE_MODELS[TINY_SHAPE_MODEL]
    assert tiny.steps <= 5 and not tiny.embedded_guidance  # the replica is a non-turbo DiT, kept fast


def test_an_explicit_value_wins_and_zero_means_the_models_own() -> None:
    mini = shape_model_kind("2mini")
    assert mini.steps_for(0) == 30
    assert mini.steps_for(7) == 7 and shape_model_kind("2mini-turbo").steps_for(50) == 50


def test_the_default_job_asks_for_the_models_own_steps() -> None:
    options = JobOptions()
    assert options.steps == 0
    options.validate()  # 0 is allowed: it means "the shape model's own"
    with pytest.raises(ProtocolError, match="the shape model's own"):
        JobOptions.from_dict({"steps": -1})


def test_an_unknown_model_is_a_bad_request_naming_the_choices() -> None:
    with pytest.raises(ProtocolError) as excinfo:
        shape_model_kind("3.0")
    assert excinfo.value.code is ErrorCode.BAD_REQUEST and "2mini-turbo" in excinfo.value.message
    assert TINY_SHAPE_MODEL not in excinfo.value.message.split("choose from")[1]


def test_the_help_line_names_each_real_models_steps() -> None:
    assert describe_default_steps() == "2mini 30, 2mini-turbo 5, 2.0 30, 2.0-turbo 5"
