"""The paint models' kinds: how many denoising steps each is made for, and how many it can take.

Decided here, once, because both sides need it, like the shape models' kinds (``shape_models``):
the backend runs a job's paint steps from it, the add-on offers the models and says what runs. A
job's ``paint_steps`` of 0 means "the paint model's own"; any other value wins, up to the
model's most.

Upstream's figures (Tencent/Hunyuan3D-2, ``hy3dgen/texgen``): the 2.0 model runs 30 steps with
classifier-free guidance (two UNet passes per view); the distilled turbo model, upstream's
default since April 2025, runs 10 steps without it, on a fixed 30-point grid of timesteps, so
it can take at most 30.
"""

from __future__ import annotations

from dataclasses import dataclass

from .families import CLEAN, HUNYUAN3D
from .tables import by_name, look_up


@dataclass(frozen=True)
class PaintModelKind:
    name: str        # the backend's --paint choice
    label: str       # what the add-on shows
    steps: int       # denoising steps when a job asks for 0
    max_steps: int   # the most it runs: more are run as this many
    turbo: bool      # True: distilled (no guidance batch, position-guided attention)
    family: str = HUNYUAN3D  # the family whose code runs it (families.MODEL_FAMILIES)

    @property
    def description(self) -> str:
        """How it paints, as the add-on's Paint menu and the command line's ``--paint`` help say it."""
        guidance = "without a guidance batch" if self.turbo else "with a guidance batch: two passes a view"
        return f"Runs {self.steps} steps, {guidance}"

    def steps_for(self, asked: int) -> int:
        """The steps a job runs: ``asked`` when it names a number (at most ``max_steps``), else this
        model's own."""
        return min(asked or self.steps, self.max_steps)


DEFAULT_PAINT_MODEL = "2.0-turbo"

PAINT_MODELS: dict[str, PaintModelKind] = by_name(
    PaintModelKind("2.0-turbo", "Hunyuan3D-Paint 2.0 turbo", steps=10, max_steps=30, turbo=True),
    PaintModelKind("2.0", "Hunyuan3D-Paint 2.0", steps=30, max_steps=200, turbo=False),
)


# The licence-clean family's paint model (Step1X-3D's texture adapter over SDXL base 1.0): not one of
# the ``--paint`` choices above (those are Hunyuan3D-Paint's), the family decides it. Upstream's
# Step1X3DTextureConfig runs 50 DDPM steps with classifier-free guidance 3.0.
CLEAN_PAINT_MODEL = PaintModelKind("step1x", "Step1X-3D texture (SDXL base 1.0 + multiview adapter)", steps=50,
                                   max_steps=200, turbo=False, family=CLEAN)


def paint_model_kind(name: str) -> PaintModelKind:
    """The kind of the paint model ``name``; ``bad_request`` naming the choices otherwise."""
    return look_up(PAINT_MODELS, name, "paint model")


def describe_default_paint_steps() -> str:
    """One line for help texts: each paint model's own steps."""
    return ", ".join(f"{kind.name} {kind.steps}" for kind in PAINT_MODELS.values())
