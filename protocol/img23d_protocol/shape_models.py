"""The shape models' kinds: how many denoising steps each is made for, and how it is guided.

Decided here, once, because both sides need it: the backend runs a job's steps from it (and
its memory preflight doubles the DiT's batch for classifier-free guidance from it), and the
add-on shows the steps that will run without asking a running backend. A job's ``steps`` of 0
means "the shape model's own"; any other value wins.

The step counts are upstream's (Hunyuan3D-2's gradio_app.py): 5 for the step-distilled turbo
variants, 30 for the others. A turbo DiT takes the guidance scale as an input (guidance
embedded: one pass per image); the others run classifier-free guidance, a conditioned and an
unconditioned pass per image, whatever the guidance scale. A job's ``guidance_scale`` of 0 means
the model's own, like its steps: 5.0 for Hunyuan3D-2 (hy3dgen's pipeline), 7.5 for Step1X-3D. Its
``octree_resolution`` of 0 likewise: 256 for Hunyuan3D-2 (what img23d always ran), 384 for Step1X-3D
(its pipeline's default, which its hierarchical decoding reaches from a 96-cell grid).

Each kind belongs to a family (``families``): Hunyuan3D-2's models, or Step1X-3D's licence-clean one.

(1.19) Hunyuan3D-2mv's three DiTs take an object's views (``views``: front, left, back, right, as
``img23d_protocol.views`` names them). Each single-view kind names the kind a name with views is shaped
by instead (``views_model``): the turbo models' the turbo 2mv, the others the 2mv model; the clean family
has none (no openly licensed multi-view shape model exists), so there a view colours the texture only.
"""

from __future__ import annotations

from dataclasses import dataclass

from .tables import by_name, look_up


@dataclass(frozen=True)
class ShapeModelKind:
    name: str                 # the backend's --shape choice (or TINY_SHAPE_MODEL)
    label: str                # what the add-on shows
    steps: int                # denoising steps when a job asks for 0
    embedded_guidance: bool   # True: guidance is an input of the DiT; False: classifier-free (2 passes)
    guidance: float = 5.0     # the guidance scale when a job asks for 0
    family: str = "hunyuan3d"  # families.MODEL_FAMILIES
    labels: bool = False      # takes a label (options' symmetry and sharpness): Step1X-3D's Label model
    octree: int = 256         # the surface grid's resolution when a job asks for 0
    views: bool = False       # takes an object's views beside its front (Hunyuan3D-2mv)
    views_model: str | None = None  # the kind that shapes a name with views when this one is chosen

    @property
    def description(self) -> str:
        """What it runs and takes, as the add-on's shape menu and the command line's ``--shape`` help say it."""
        takes = "; takes a symmetry and an edge sharpness" if self.labels else ""
        views = "; shapes from the front and the views given" if self.views else ""
        return f"Runs {self.steps} steps{takes}{views}"

    def steps_for(self, asked: int) -> int:
        """The steps a job runs: ``asked`` when it names a number, else this model's own."""
        return asked or self.steps

    def guidance_for(self, asked: float) -> float:
        """The guidance scale a job runs: ``asked`` when it names one, else this model's own."""
        return asked or self.guidance

    def octree_for(self, asked: int) -> int:
        """The octree resolution a job decodes at: ``asked`` when it names one, else this model's own."""
        return asked or self.octree


# The tiny random-weight replicas (the "tiny" model set): a non-turbo DiT like hunyuan3d-dit-v2-mini,
# and Step1X-3D's geometry, with a few steps of their own, so tests that ask for nothing stay fast.
TINY_SHAPE_MODEL = "tiny"
TINY_STEP1X_MODEL = "tiny-step1x"
TINY_STEP1X_LABEL_MODEL = "tiny-step1x-label"
TINY_MV_MODEL = "tiny-mv"  # Hunyuan3D-2mv's replica: the tiny DiT conditioned on views

SHAPE_MODELS: dict[str, ShapeModelKind] = by_name(
    ShapeModelKind("2mini", "Hunyuan3D-2 mini", steps=30, embedded_guidance=False, views_model="2mv"),
    ShapeModelKind("2mini-turbo", "Hunyuan3D-2 mini turbo", steps=5, embedded_guidance=True, views_model="2mv-turbo"),
    ShapeModelKind("2.0", "Hunyuan3D-2", steps=30, embedded_guidance=False, views_model="2mv"),
    ShapeModelKind("2.0-turbo", "Hunyuan3D-2 turbo", steps=5, embedded_guidance=True, views_model="2mv-turbo"),
    # Hunyuan3D-2mv (front, left, back, right): the 2.0-sized DiT; -fast is guidance-distilled (the
    # guidance an input, upstream's 30 steps), -turbo step-distilled too (5 steps).
    ShapeModelKind("2mv", "Hunyuan3D-2mv (views)", steps=30, embedded_guidance=False, views=True, views_model="2mv"),
    ShapeModelKind("2mv-turbo", "Hunyuan3D-2mv turbo (views)", steps=5, embedded_guidance=True, views=True,
                   views_model="2mv-turbo"),
    ShapeModelKind("2mv-fast", "Hunyuan3D-2mv fast (views)", steps=30, embedded_guidance=True, views=True,
                   views_model="2mv-fast"),
    # Step1X-3D's pipeline: 30 steps (its scripts use 50), classifier-free guidance 7.5.
    ShapeModelKind("step1x", "Step1X-3D Geometry 1300m", steps=30, embedded_guidance=False, guidance=7.5,
                   family="clean", octree=384),
    # The Label model: the same sampler, a label (symmetry, edge sharpness) beside the picture.
    ShapeModelKind("step1x-label", "Step1X-3D Geometry Label 1300m", steps=30, embedded_guidance=False, guidance=7.5,
                   family="clean", labels=True, octree=384),
    ShapeModelKind(TINY_SHAPE_MODEL, "tiny replica", steps=3, embedded_guidance=False, views_model=TINY_MV_MODEL),
    ShapeModelKind(TINY_MV_MODEL, "tiny Hunyuan3D-2mv replica", steps=3, embedded_guidance=False, views=True,
                   views_model=TINY_MV_MODEL),
    ShapeModelKind(TINY_STEP1X_MODEL, "tiny Step1X-3D replica", steps=3, embedded_guidance=False, guidance=7.5,
                   family="clean", octree=384),
    ShapeModelKind(TINY_STEP1X_LABEL_MODEL, "tiny Step1X-3D Label replica", steps=3, embedded_guidance=False,
                   guidance=7.5, family="clean", labels=True, octree=384),
)
TINY_MODELS = (TINY_SHAPE_MODEL, TINY_STEP1X_MODEL, TINY_STEP1X_LABEL_MODEL, TINY_MV_MODEL)


def shape_model_kind(name: str) -> ShapeModelKind:
    """The kind of the shape model ``name``; ``bad_request`` naming the choices otherwise."""
    return look_up(SHAPE_MODELS, name, "shape model", (n for n in SHAPE_MODELS if n not in TINY_MODELS))


def describe_default_steps() -> str:
    """One line for help texts: each real shape model's own steps."""
    return ", ".join(f"{kind.name} {kind.steps}" for kind in SHAPE_MODELS.values() if kind.name not in TINY_MODELS)


def describe_default_octrees() -> str:
    """One line for help texts: each real shape model's own octree resolution."""
    return ", ".join(f"{kind.name} {kind.octree}" for kind in SHAPE_MODELS.values() if kind.name not in TINY_MODELS)
