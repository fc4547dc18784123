"""The model families an artist chooses between: which shape (and texture) models a job runs.

Tencent's Hunyuan 3D 2.0 Community License grants nothing in the European Union, the United
Kingdom and South Korea, nor for the models' output there. The licence-clean family runs
StepFun's Step1X-3D geometry (Apache-2.0 code and weights) with the same grounding (Qwen3-VL,
Apache-2.0), matting (BiRefNet, MIT) and depth (Depth Anything V2 Small, Apache-2.0), and no
Tencent-licensed code or weights: hy3dgen is not even imported. It textures with Step1X-3D's
texture adapter over SDXL base 1.0 (CreativeML Open RAIL++-M: use restrictions, no territory).
"""

from __future__ import annotations

from dataclasses import dataclass

from .tables import by_name, look_up
from .views import CLEAN_FAMILY_VIEWS


@dataclass(frozen=True)
class ModelFamily:
    name: str           # the command line's --family, the add-on's preference
    label: str          # what the add-on and the models listing show
    shape: str          # its shape model (shape_models.SHAPE_MODELS)
    tiny_shape: str     # the tiny replica standing in for it in the "tiny" model set
    paints: bool        # whether it can texture today
    no_texture: str = ""  # one sentence when it cannot: why, and what the artist gets
    paint_label: str = ""  # its texture model, as the add-on shows it
    # Packages its code needs beyond the backend's requirements: Install Backend installs them with
    # --no-deps for this family only (hy3dgen's other declared dependencies are web-UI extras).
    pip_packages: tuple[str, ...] = ()
    # (1.19) One sentence where views are given and the family has no multi-view shape model (its shapes
    # come from the front picture alone); empty when it has one.
    views_front_only: str = ""

    @property
    def description(self) -> str:
        """What it makes, as the add-on's Model Family menu and the command line's ``--family`` help say it."""
        return self.no_texture or f"Shape, and texture by {self.paint_label}"


HUNYUAN3D = "hunyuan3d"
CLEAN = "clean"
MODEL_FAMILIES: dict[str, ModelFamily] = by_name(
    ModelFamily(HUNYUAN3D, "Hunyuan3D-2 (Tencent licence: not in the EU, the UK or South Korea)",
                shape="2mini-turbo", tiny_shape="tiny", paints=True, paint_label="Hunyuan3D-Paint 2.0",
                pip_packages=("hy3dgen==2.0.2",)),
    ModelFamily(CLEAN, "Licence-clean (Step1X-3D, Apache-2.0)", shape="step1x", tiny_shape="tiny-step1x",
                paints=True, paint_label="Step1X-3D texture (SDXL base 1.0 + multiview adapter)",
                views_front_only=CLEAN_FAMILY_VIEWS),
)
DEFAULT_FAMILY = HUNYUAN3D


def model_family(name: str) -> ModelFamily:
    """The family ``name``; ``bad_request`` naming the choices otherwise."""
    return look_up(MODEL_FAMILIES, name, "model family")
