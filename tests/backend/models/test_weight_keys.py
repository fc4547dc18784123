"""A weights file of another model is refused; one that leaves out a few tied or computed tensors,
as published files may, is not (``models/weight_keys.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from img23d_backend.models.weight_keys import ForeignWeights, check_loading_info, weights_file


def _model() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2))  # four tensors


def test_a_few_missing_tensors_load(tmp_path: Path) -> None:
    check_loading_info(_model(), {"missing_keys": ["1.bias"]}, tmp_path)  # a tied or computed tensor
    check_loading_info(_model(), {"missing_keys": ["0.bias", "1.bias"]}, tmp_path)  # half: not most


def test_most_missing_tensors_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(ForeignWeights) as caught:
        check_loading_info(_model(), {"missing_keys": ["1.weight", "0.weight", "0.bias"]}, tmp_path)
    assert caught.value.path == tmp_path / "model.safetensors"
    assert caught.value.why == "holds another model's weights (3 of this model's 4 tensors are not in it, e.g. 0.bias)"


def test_a_sharded_checkpoint_is_named_by_its_index(tmp_path: Path) -> None:
    for name in ("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
                 "model.safetensors.index.json"):
        (tmp_path / name).write_bytes(b"")
    assert weights_file(tmp_path).name == "model.safetensors.index.json"
