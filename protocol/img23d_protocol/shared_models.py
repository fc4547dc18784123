"""The models every job uses, an artist's choice each: the grounding model (a box per name), the matting model
(each crop cut out) and the depth model (where each object stands), with what the add-on's preferences say of
each.

The add-on's Grounding, Matting and Depth choices and the real model set's description are built from these rows,
the command line's ``--grounding``, ``--matting`` and ``--depth`` help too (``choices_help``: each row's name,
label and description); the backend's rooms (``grounding/table.py``, ``matting/table.py``, ``depth/table.py``) hold
one model per name: tests/test_protocol_model_rows.py holds them to each other.
"""

from __future__ import annotations

from dataclasses import dataclass

from .licences import ModelLicence, model_licence
from .tables import by_name, rows_help


@dataclass(frozen=True)
class SharedModel:
    name: str           # the backend's choice (``--grounding``, ``--matting``, ``--depth``), the add-on's preference
    label: str          # what the add-on shows
    description: str    # the add-on's tooltip: what it reads, its size
    repo_id: str        # its repository: its licence row

    @property
    def licence(self) -> ModelLicence | None:
        """Its repository's licence row."""
        return model_licence(self.repo_id)


GROUNDING_MODELS: dict[str, SharedModel] = by_name(
    SharedModel("2b", "Qwen3-VL 2B", "About 4.4 GB", "Qwen/Qwen3-VL-2B-Instruct"),
    SharedModel("4b", "Qwen3-VL 4B", "About 8.8 GB", "Qwen/Qwen3-VL-4B-Instruct"),
    SharedModel("8b", "Qwen3-VL 8B", "About 17.6 GB", "Qwen/Qwen3-VL-8B-Instruct"),
)
MATTING_MODELS: dict[str, SharedModel] = by_name(
    SharedModel("birefnet", "BiRefNet", "Reads each crop at 1024 x 1024", "ZhengPeng7/BiRefNet"),
    SharedModel("birefnet-hr", "BiRefNet_HR", "Reads each crop at 2048 x 2048: for large pictures, hair and fine "
                                              "edges; about four times the matting time", "ZhengPeng7/BiRefNet_HR"),
)
DEPTH_MODELS: dict[str, SharedModel] = by_name(
    SharedModel("da2-small", "Depth Anything V2 Small", "Where each object stands; about 0.1 GB",
                "depth-anything/Depth-Anything-V2-Small-hf"),
    SharedModel("moge2-vits-normal", "MoGe-2 ViT-S (normals)", "Where each object stands in metres, with the "
                "camera's field of view; about 0.14 GB", "Ruicheng/moge-2-vits-normal"),
)
DEFAULT_GROUNDING_MODEL = "2b"
DEFAULT_MATTING_MODEL = "birefnet"
DEFAULT_DEPTH_MODEL = "moge2-vits-normal"


# Each role's rows, by the role's name (a model set's, the command line's option).
SHARED_MODELS: dict[str, dict[str, SharedModel]] = {"grounding": GROUNDING_MODELS, "matting": MATTING_MODELS,
                                                    "depth": DEPTH_MODELS}


def choices_help(role: str) -> str:
    """``role``'s rows as a command line's help names them: "grounding model: 2b (Qwen3-VL 2B, about 4.4 GB), ..."."""
    return rows_help(f"{role} model", SHARED_MODELS[role].values())
