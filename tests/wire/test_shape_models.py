"""The shape models' kinds: one table (protocol) that the backend, the command line and the add-on read."""

from __future__ import annotations

import pytest

from img23d_protocol import (MODEL_FAMILIES, SHAPE_MODELS, TINY_MODELS, TINY_SHAPE_MODEL, ErrorCode, JobOptions,
                             ProtocolError, describe_default_steps, model_family, shape_model_kind)


def test_turbo_models_run_5_steps_with_the_guidance_embedded_the_others_30_with_classifier_free() -> None:
    # Upstream's app: 5 steps for the turbo subfolders, 30 otherwise.
    real = {name: (kind.steps, kind.embedded_guidance, kind.guidance) for name, kind in SHAPE_MODELS.items()
            if name not in TINY_MODELS}
    # Step1X-3D's pipeline: 30 steps, classifier-free guidance 7.5 (hy3dgen's pipeline: 5.0).
    assert real == {"2mini": (30, False, 5.0), "2mini-turbo": (5, True, 5.0), "2.0": (30, False, 5.0),
                    "2.0-turbo": (5, True, 5.0), "step1x": (30, False, 7.5), "step1x-label": (30, False, 7.5),
                    # Hunyuan3D-2mv: -fast is guidance-distilled (embedded, upstream's 30 steps), -turbo step-distilled.
                    "2mv": (30, False, 5.0), "2mv-turbo": (5, True, 5.0), "2mv-fast": (30, True, 5.0)}
    # Only the Label model (and its tiny replica) takes labels.
    assert {name for name, kind in SHAPE_MODELS.items() if kind.labels} == {"step1x-label", "tiny-step1x-label"}


def test_each_family_names_its_shape_model_and_whether_it_paints() -> None:
    for family in MODEL_FAMILIES.values():
        assert shape_model_kind(family.shape).family == family.name
        assert shape_model_kind(family.tiny_shape).family == family.name
        assert family.paints or family.no_texture.startswith("texture skipped")
    # Both paint: Hunyuan3D-Paint, and the licence-clean family's Step1X-3D texture model over SDXL.
    assert model_family("clean").paints and model_family("hunyuan3d").paints
    assert "SDXL" in model_family("clean").paint_label
    with pytest.raises(ProtocolError, match="choose from hunyuan3d, clean"):
        model_family("other")


def test_zero_guidance_means_the_models_own() -> None:
    assert JobOptions().guidance_scale == 0
    assert shape_model_kind("step1x").guidance_for(0) == 7.5 and shape_model_kind("2mini").guidance_for(0) == 5.0
    assert shape_model_kind("step1x").guidance_for(3.0) == 3.0


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
    assert all(tiny not in excinfo.value.message.split("choose from")[1].split(", ") for tiny in TINY_MODELS)


def test_the_help_line_names_each_real_models_steps() -> None:
    assert describe_default_steps() == ("2mini 30, 2mini-turbo 5, 2.0 30, 2.0-turbo 5, 2mv 30, 2mv-turbo 5, "
                                       "2mv-fast 30, step1x 30, step1x-label 30")


@pytest.mark.parametrize(("field", "value", "sentence"), [
    ("symmetry", "y", "option symmetry='y' is out of range: it must be 'auto' or 'x' or 'none'"),
    ("sharpness", "crisp", "option sharpness='crisp' is out of range: it must be 'auto' or 'normal' or 'smooth' or 'sharp'")])
def test_a_bad_label_option_is_one_sentence(field: str, value: str, sentence: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        JobOptions.from_dict({field: value})
    assert caught.value.code == ErrorCode.BAD_REQUEST and sentence in caught.value.message
    assert JobOptions.from_dict({"symmetry": "x", "sharpness": "sharp"}).labelled
    assert not JobOptions().labelled


def test_each_default_family_model_names_its_2mv_match_and_the_clean_family_none() -> None:
    # A name with views is shaped by Hunyuan3D-2mv: the turbo one for a turbo choice, else the 30-step one.
    matches = {name: kind.views_model for name, kind in SHAPE_MODELS.items() if name not in TINY_MODELS}
    assert matches == {"2mini": "2mv", "2mini-turbo": "2mv-turbo", "2.0": "2mv", "2.0-turbo": "2mv-turbo",
                       "2mv": "2mv", "2mv-turbo": "2mv-turbo", "2mv-fast": "2mv-fast",
                       "step1x": None, "step1x-label": None}
    taking_views = {name for name, kind in SHAPE_MODELS.items() if kind.views}
    assert taking_views == {"2mv", "2mv-turbo", "2mv-fast", "tiny-mv"}
    assert all(SHAPE_MODELS[kind.views_model].views for kind in SHAPE_MODELS.values() if kind.views_model)
