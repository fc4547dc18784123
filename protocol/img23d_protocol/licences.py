"""Every model's licence, with what it forbids, in one table both sides read.

The backend's model registry looks its models up here (``ModelSpec.licence``), its
``models`` command prints them, and the add-on's model manager shows them beside each model
without asking the backend: the table is plain data, keyed by the model's repository id.

A licence is *restricted* when it limits where or by whom the model (and, for Tencent's, its
output) may be used: territories it excludes, a number of monthly users above which a separate
licence is needed, or non-commercial use only. The first download of a model under a
restricted licence needs the artist's consent (``accepted_licences`` on a job's options or a
download request: the add-on asks once and remembers; the command line takes
``--accept-licence``); a model already on disk is used without asking again.

The facts come from the licences themselves: Tencent's is the ``LICENSE`` file of
tencent/Hunyuan3D-2 (its section 1.l "Territory", section 4 "Additional commercial terms"
and section 5.c: no use of the works or their output outside the Territory); the others are
declared in each model card's metadata (``license: apache-2.0`` / ``mit``).
"""

from __future__ import annotations

from dataclasses import dataclass

HUB = "https://huggingface.co"
# The family an artist the Tencent licence excludes can choose instead (families.py names it too;
# this module cannot import that one: families -> errors only, licences -> nothing).
CLEAN_FAMILY_LABEL = "Step1X-3D, Apache-2.0"


@dataclass(frozen=True)
class Licence:
    key: str                                   # what consent is remembered by
    name: str
    text_url: str                              # the licence's own text
    excluded_territories: tuple[str, ...] = ()  # where it grants nothing
    monthly_user_limit: int | None = None      # above this many monthly active users: ask the licensor
    non_commercial: bool = False
    # How the non-commercial limit is said where it reaches further than the model (FAIR's: its outputs).
    non_commercial_words: str = "non-commercial use only"
    note: str = ""                             # one plain sentence an artist needs besides

    @property
    def restricted(self) -> bool:
        """True when the licence limits territory or use: its first download asks for consent."""
        return bool(self.excluded_territories) or self.monthly_user_limit is not None or self.non_commercial

    def restrictions(self) -> list[str]:
        """Each restriction as a short phrase; empty for a permissive licence."""
        said = []
        if self.excluded_territories:
            said.append("not licensed in " + _joined(self.excluded_territories))
        if self.monthly_user_limit is not None:
            said.append(f"over {self.monthly_user_limit:,} monthly active users needs a licence from the licensor")
        if self.non_commercial:
            said.append(self.non_commercial_words)
        return said

    def summary(self) -> str:
        """One line: the name and its restrictions (or that it has none)."""
        restrictions = self.restrictions()
        return f"{self.name}: " + ("; ".join(restrictions) if restrictions else "no restriction on territory or use")


@dataclass(frozen=True)
class ModelLicence:
    """One model repository's licence, and the file (at the pinned revision) that states it."""

    repo_id: str
    licence: Licence
    # The repository's file that carries or declares the licence: its LICENSE where it has one,
    # else the model card, whose metadata names it. Empty: a local model (no page to link to).
    stated_in: str = "README.md"
    replicates: str = ""                       # a tiny replica: the repository whose layout it copies

    def url(self, revision: str | None) -> str:
        """Where to read the licence: the stating file at the pinned revision, else the text."""
        if not self.stated_in:
            return self.licence.text_url
        return f"{HUB}/{self.repo_id}/blob/{revision or 'main'}/{self.stated_in}"


def _joined(items: tuple[str, ...]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


TENCENT_HUNYUAN_3D = Licence(
    key="tencent-hunyuan-3d-2.0-community", name="Tencent Hunyuan 3D 2.0 Community License",
    text_url="https://github.com/Tencent/Hunyuan3D-2/blob/main/LICENSE",
    excluded_territories=("the European Union", "the United Kingdom", "South Korea"),
    monthly_user_limit=1_000_000,
    note="The licence grants nothing outside its Territory, and forbids using the models' output there too; "
         "it also has an acceptable use policy.")
APACHE_2 = Licence(key="apache-2.0", name="Apache License 2.0",
                   text_url="https://www.apache.org/licenses/LICENSE-2.0")
MIT = Licence(key="mit", name="MIT License", text_url="https://opensource.org/license/mit")
# SDXL base 1.0's licence: use restrictions (its Attachment A: no unlawful use, no harm to minors,
# no disinformation, ...) that pass on to whoever uses the model or its output, but no territory, no
# user limit and commercial use allowed: not "restricted" here (no consent asked), the note says it.
OPENRAIL_PLUS_PLUS_M = Licence(
    key="creativeml-openrail++-m", name="CreativeML Open RAIL++-M License",
    text_url="https://huggingface.co/stabilityai/stable-diffusion-xl-base-1.0/blob/main/LICENSE.md",
    note="Commercial use allowed in every territory; its use restrictions (Attachment A) bind whoever uses "
         "the model or its output.")
# Marigold-IID-Appearance v1.1's weights (prs-eth, ETH Zurich): its model card declares the CreativeML
# Open RAIL++-M licence; prs-eth/Marigold's LICENSE-MODEL.txt, "OpenRAIL++-M ... based on the CreativeML
# Open RAIL-M license", is its text, but its Attachment A (the use restrictions) is the empty template.
# The weights are Stable Diffusion 2 fine-tuned, so the restrictions that bind are Stable Diffusion 2's:
# its CreativeML Open RAIL++-M (stabilityai/stable-diffusion-2's LICENSE-MODEL, Attachment A), the same
# terms as SDXL's. No territory, no user limit, commercial use allowed: not "restricted".
SD2_LICENCE_URL = "https://huggingface.co/stabilityai/stable-diffusion-2/blob/main/LICENSE-MODEL"
MARIGOLD_OPENRAIL_PLUS_PLUS_M = Licence(
    key="creativeml-openrail++-m", name="CreativeML Open RAIL++-M License",
    text_url="https://github.com/prs-eth/Marigold/blob/main/LICENSE-MODEL.txt",
    note="Commercial use allowed in every territory. Its use restrictions are Stable Diffusion 2's CreativeML "
         f"Open RAIL++-M (Attachment A of {SD2_LICENCE_URL}), which Marigold is fine-tuned from: Marigold's own "
         "licence leaves its Attachment A an empty template. They bind whoever uses the model or its output. "
         "Marigold's code is under Apache-2.0.")
# The replicas are img23d's own work, under img23d's licence (the add-on's manifest: GPL-3.0-or-later).
REPLICA = Licence(key="img23d-replica", name="img23d test replica (random weights, made by img23d)",
                  text_url="https://www.gnu.org/licenses/gpl-3.0.html",
                  note="Random weights built offline by img23d for tests; no third-party weights in it.")
# Depth Anything V2's Base, Large and Giant weights: not offered (the registry offers Small only).
CC_BY_NC_4 = Licence(key="cc-by-nc-4.0", name="Creative Commons Attribution-NonCommercial 4.0",
                     text_url="https://creativecommons.org/licenses/by-nc/4.0/", non_commercial=True)

# AutoPartGen's (facebookresearch/AutoPartGen's LICENSE, dated 2026-06-24, and the model card): the FAIR
# Noncommercial Research License v1 covers the code, the weights and what they make: a part it makes may be
# used for non-commercial research only, like the model. Consent is asked before its first download.
FAIR_NC_RESEARCH = Licence(
    key="fair-noncommercial-research-v1", name="FAIR Noncommercial Research License v1",
    text_url="https://github.com/facebookresearch/AutoPartGen/blob/main/LICENSE", non_commercial=True,
    non_commercial_words="non-commercial research use only, the parts it makes included",
    note="The code, the weights and their outputs (the parts it makes) are for non-commercial research only.")


def _entries(*entries: ModelLicence) -> dict[str, ModelLicence]:
    return {entry.repo_id: entry for entry in entries}


# The tiny replicas (model set "tiny"): ours, random weights, the real models' folder layouts; each
# ``tiny/<name>`` beside the real model it replicates.
_REPLICATED = (
    ("qwen3-vl", "Qwen/Qwen3-VL-2B-Instruct"),
    ("birefnet", "ZhengPeng7/BiRefNet"),
    ("birefnet-hr", "ZhengPeng7/BiRefNet_HR"),
    ("hunyuan3d", "tencent/Hunyuan3D-2mini"),
    ("hunyuan3d-mv", "tencent/Hunyuan3D-2mv"),
    ("hunyuan3d-paint", "tencent/Hunyuan3D-2"),
    ("step1x-3d", "stepfun-ai/Step1X-3D"),
    ("step1x-3d-texture", "stepfun-ai/Step1X-3D"),
    ("stable-diffusion-xl-base-1.0", "stabilityai/stable-diffusion-xl-base-1.0"),
    ("sdxl-vae-fp16-fix", "madebyollin/sdxl-vae-fp16-fix"),
    ("depth-anything", "depth-anything/Depth-Anything-V2-Small-hf"),
    ("moge-2-vits-normal", "Ruicheng/moge-2-vits-normal"),
    ("marigold-iid-appearance", "prs-eth/marigold-iid-appearance-v1-1"),
    ("flux2-klein-4b", "black-forest-labs/FLUX.2-klein-4B"),
    ("qwen-image-edit-2511", "Qwen/Qwen-Image-Edit-2511"),
    ("autopartgen", "facebook/autopartgen"),
    ("skintokens", "VAST-AI/SkinTokens"),
    ("dinov2-with-registers-large", "facebook/dinov2-with-registers-large"),
)


MODEL_LICENCES: dict[str, ModelLicence] = _entries(
    ModelLicence("Qwen/Qwen3-VL-2B-Instruct", APACHE_2),
    ModelLicence("Qwen/Qwen3-VL-4B-Instruct", APACHE_2),
    ModelLicence("Qwen/Qwen3-VL-8B-Instruct", APACHE_2),
    ModelLicence("ZhengPeng7/BiRefNet", MIT),
    # BiRefNet_HR (--matting birefnet-hr): its model card's licence tag.
    ModelLicence("ZhengPeng7/BiRefNet_HR", MIT, stated_in="README.md"),
    ModelLicence("tencent/Hunyuan3D-2", TENCENT_HUNYUAN_3D, stated_in="LICENSE"),
    ModelLicence("tencent/Hunyuan3D-2mini", TENCENT_HUNYUAN_3D),
    # Hunyuan3D-2mv (shape from views): its model card's licence tag (tencent-hunyuan-community) links
    # Hunyuan3D-2's licence text: the same licence, the same territory exclusion.
    ModelLicence("tencent/Hunyuan3D-2mv", TENCENT_HUNYUAN_3D, stated_in="README.md"),
    ModelLicence("depth-anything/Depth-Anything-V2-Small-hf", APACHE_2),
    # The metric depth model (--depth moge2-vits-normal): MoGe-2 ViT-S's weights under MIT, its model card's
    # licence tag (microsoft/MoGe's code is MIT too, its DINOv2 part Apache-2.0).
    ModelLicence("Ruicheng/moge-2-vits-normal", MIT, stated_in="README.md"),
    # Code and weights (the geometry, label-geometry and texture-adapter folders) under Apache-2.0:
    # the repository's LICENSE and its model card's metadata.
    ModelLicence("stepfun-ai/Step1X-3D", APACHE_2, stated_in="LICENSE"),
    # The licence-clean family's texture model reads these two beside Step1X-3D's adapter.
    ModelLicence("stabilityai/stable-diffusion-xl-base-1.0", OPENRAIL_PLUS_PLUS_M, stated_in="LICENSE.md"),
    ModelLicence("madebyollin/sdxl-vae-fp16-fix", MIT),
    # The material model every family shares (roughness and metallic maps from painted views).
    ModelLicence("prs-eth/marigold-iid-appearance-v1-1", MARIGOLD_OPENRAIL_PLUS_PLUS_M),
    # The image editor every family shares (fills in the hidden parts of a crop): FLUX.2 [klein] 4B's
    # weights under Apache-2.0, stated in its LICENSE.md (the 9B variants are non-commercial: not offered).
    ModelLicence("black-forest-labs/FLUX.2-klein-4B", APACHE_2, stated_in="LICENSE.md"),
    # The large image editor (--editor qwen-image-edit-2511): Qwen-Image-Edit-2511's weights under
    # Apache-2.0, its model card's licence tag.
    ModelLicence("Qwen/Qwen-Image-Edit-2511", APACHE_2, stated_in="README.md"),
    # The parts model (one object's parts as separate meshes): gated on the hub; code, weights and outputs
    # non-commercial research only. Its image conditioner, DINOv2-L/14 with registers: its model card's tag.
    ModelLicence("facebook/autopartgen", FAIR_NC_RESEARCH, stated_in="README.md"),
    ModelLicence("facebook/dinov2-with-registers-large", APACHE_2, stated_in="README.md"),
    # The rigging model (--weights model): SkinTokens' weights under MIT, stated in its model card.
    ModelLicence("VAST-AI/SkinTokens", MIT, stated_in="README.md"),
    *(ModelLicence(f"tiny/{name}", REPLICA, stated_in="", replicates=real) for name, real in _REPLICATED),
)

# Models deliberately not offered, and why (the guide's licence table lists them).
NOT_OFFERED: dict[str, ModelLicence] = _entries(
    ModelLicence("depth-anything/Depth-Anything-V2-Base-hf", CC_BY_NC_4),
    ModelLicence("depth-anything/Depth-Anything-V2-Large-hf", CC_BY_NC_4),
)


def model_licence(repo_id: str) -> ModelLicence | None:
    """The licence of the model stored as ``repo_id``; None for a model this table does not know."""
    return MODEL_LICENCES.get(repo_id)


def licence_refusal(model: str, licence: Licence) -> str:
    """The one sentence that says a restricted model was not downloaded, and how to consent."""
    return (f"{model} was not downloaded: its licence ({licence.summary()}) must be accepted first: "
            f"confirm it in the add-on's model list (Download), or pass --accept-licence on the command line"
            + (f"; or choose the licence-clean model family ({CLEAN_FAMILY_LABEL}: --family clean), "
               "which needs no such licence" if licence.excluded_territories else ""))
