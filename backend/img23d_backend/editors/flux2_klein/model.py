"""Where the image editor's files come from, and its specs: FLUX.2 [klein] 4B
(``black-forest-labs/FLUX.2-klein-4B``), which edits a picture from an instruction (here: fills in
the hidden parts of an object's crop) through diffusers' ``Flux2KleinPipeline``; ``EDITORS`` offers
it by choice name, ``tiny_editor`` points at its tiny replica (``replicas/editor.py`` writes it).

The table is keyed like the other roles': the second editor, Qwen-Image-Edit-2511 through
``QwenImageEditPlusPipeline`` (20B, for large GPUs; ``qwen_edit_model`` holds its facts), is one more
entry, its loaders one more entry of ``stages/editor_parts.py``'s ``PIPELINES`` (keyed by
``model_index.json``'s ``_class_name``). The user picks one with ``--editor``.

Where each fact comes from (the hub cannot be reached from where this was written):

* The revision: public projects that download this very commit: github.com/Vineet-Vinod/ColorIt,
  ``src/pipeline/flux2_klein_mlx.py`` (``FLUX2_KLEIN_4B_REVISION``, with every file's size and
  sha256 checked before use; its tests assert the same commit), and several others that pin the
  same commit in their model tables (a benchmark report of ``optimum`` exports, a "Face Lab" install
  guide, a runtime config's ``modelRevision``).
* The files: ColorIt's ``FLUX2_KLEIN_4B_FILES`` lists seventeen, with sizes and sha256:
  ``model_index.json`` (446 B), ``scheduler/scheduler_config.json``, ``text_encoder/`` (``config.json``,
  ``generation_config.json``, ``model.safetensors.index.json``, ``model-00001-of-00002.safetensors``
  4,967,215,360 B, ``model-00002-of-00002.safetensors`` 3,077,766,632 B), ``tokenizer/``
  (``added_tokens.json``, ``chat_template.jinja``, ``merges.txt``, ``special_tokens_map.json``,
  ``tokenizer_config.json``, ``vocab.json``), ``transformer/`` (``config.json``,
  ``diffusion_pytorch_model.safetensors`` 7,751,109,744 B) and ``vae/`` (``config.json``,
  ``diffusion_pytorch_model.safetensors`` 168,120,878 B). It leaves out the root's single-file
  checkpoint (its comment says so) and, since MFLUX reads ``vocab.json`` and ``merges.txt``, the
  tokenizer's ``tokenizer.json``, which transformers' fast tokenizer reads first: a second public
  installer fetches ``tokenizer/tokenizer.json`` from the same repository, and a third counts 19 files
  at this commit, 11,432,238 B more than ColorIt's 17 (about Qwen3's 11.4 MB ``tokenizer.json`` and a
  licence file). So the list here is ColorIt's plus ``tokenizer/tokenizer.json`` (an inference, said so).
* The architecture: diffusers' own conversion script (huggingface/diffusers,
  ``scripts/convert_flux2_to_diffusers.py``, ``klein-4b``: 5 double and 20 single blocks, 24 heads of
  128, joint attention 7680 = 3 x Qwen3-4B's 2560, no guidance embedding; the VAE is
  ``AutoencoderKLFlux2()``'s defaults). Counted on the meta device, the transformer has 3,875,544,576
  parameters, the VAE 84,046,115 and Qwen3-4B (tied embeddings) 4,022,468,096: at 2 bytes each these
  are the published files' sizes less their headers (20 kB, 29 kB, 46 kB), so the files are bfloat16.
* Defaults: its model card (klein is step- and guidance-distilled: 4 steps, guidance 1.0; MFLUX's
  README and ColorIt's options say the same and refuse any other guidance); ``model_index.json``'s
  ``is_distilled`` says whether a folder is such a model, and diffusers ignores the guidance scale
  for one (``Flux2KleinPipeline.do_classifier_free_guidance``).
* The licence: Apache-2.0, the repository's ``LICENSE.md`` (ColorIt's and another installer's licence
  links point at it at this commit); the 9B variants are non-commercial and not offered.
* The size: 15.96 GB (decimal) of weights in bfloat16; with every file 15.97 GB.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...models.folder_files import KLEIN_FILES, QWEN_EDIT_FILES
from ..qwen_edit.model import QWEN_EDIT_OPTIONS, QWEN_EDIT_SPEC
from ...models.specs import ModelSpec

KLEIN_REPO = "black-forest-labs/FLUX.2-klein-4B"
KLEIN_REVISION = "e7b7dc27f91deacad38e78976d1f2b499d76a294"
# Parameters per part (see the module docstring), 2 bytes each in bfloat16.
KLEIN_PARAMETERS = {"transformer": 3_875_544_576, "text_encoder": 4_022_468_096, "vae": 84_046_115}
KLEIN_BYTES = sum(KLEIN_PARAMETERS.values()) * 2
# What a run takes by default (the module docstring says where from): steps and guidance for a
# distilled folder (``model_index.json``'s ``is_distilled``; a base one takes the pipeline's own), and
# the pixel area a crop is edited at, the most the pipeline keeps of a picture (it shrinks larger
# ones to 1024 x 1024's area: ``Flux2KleinPipeline.__call__``); and the most pictures it takes in one
# edit, the crop and the views beside it (Black Forest Labs' editing guide: "FLUX.2 [klein] 4B: up to 4"
# reference images; the pipeline itself takes any number, each as its own reference latents).
KLEIN_OPTIONS = {"distilled_steps": 4, "distilled_guidance": 1.0, "working_pixels": 1024 * 1024, "pictures": 4,
                 "part_parameters": KLEIN_PARAMETERS}

KLEIN_SPEC = ModelSpec(role="editor", repo_id=KLEIN_REPO, revision=KLEIN_REVISION, allow_patterns=KLEIN_FILES,
                       size_bytes=KLEIN_BYTES, exact_files=True, options=dict(KLEIN_OPTIONS))

# Keyed as the other roles' tables: the choice name is what ``models download editor/<name>`` takes.
# FLUX.2 [klein] 4B by default (a 12 GB card runs it in phases); Qwen-Image-Edit-2511 for large GPUs.
QWEN_EDIT_CHOICE = "qwen-image-edit-2511"
EDITORS = {"flux2-klein-4b": KLEIN_SPEC, QWEN_EDIT_CHOICE: QWEN_EDIT_SPEC}
DEFAULT_EDITOR = "flux2-klein-4b"


@dataclass(frozen=True)
class TinyEditor:
    """One editor's tiny replica: its folder below the tiny set's root, its files (the real ones'),
    and its options (the real ones' at a working area the tests edit in a second)."""

    folder: str
    files: tuple[str, ...]
    options: dict[str, Any]


# Each editor's tiny replica, by choice name. Both edit at 96 x 96's area: the real model's path
# (resize, edit, resize back) at a size the tests run quickly; the large one takes two steps instead
# of forty (its path through the pipeline does not change with the count).
TINY_EDITORS = {
    "flux2-klein-4b": TinyEditor("flux2-klein-4b", KLEIN_FILES, {**KLEIN_OPTIONS, "working_pixels": 96 * 96}),
    QWEN_EDIT_CHOICE: TinyEditor(QWEN_EDIT_CHOICE, QWEN_EDIT_FILES,
                                       {**QWEN_EDIT_OPTIONS, "working_pixels": 96 * 96, "steps": 2}),
}
TINY_EDITOR = TINY_EDITORS[DEFAULT_EDITOR].folder


def tiny_editor(root: Path, choice: str = DEFAULT_EDITOR) -> ModelSpec:
    """The tiny replica of the editor ``choice`` under ``root``: the real folder's layout and files."""
    tiny = TINY_EDITORS[choice]
    return ModelSpec(role="editor", repo_id=f"tiny/{choice}", local_path=Path(root) / tiny.folder,
                     allow_patterns=tiny.files, size_bytes=2 << 20, exact_files=True, options=dict(tiny.options))


def editor_part_sizes(spec: ModelSpec) -> dict[str, int]:
    """Each part's estimated size, until the model manager measures it: the spec's size shared out as
    the published parts' parameters are (``options["part_parameters"]``; a tiny replica's proportions
    differ, and its sizes are measured on its first load, as every model's are)."""
    parameters = spec.options["part_parameters"]
    total = sum(parameters.values())
    return {part: spec.size_bytes * count // total for part, count in parameters.items()}


def editor_dtype(device: Any) -> Any:
    """bfloat16 on CUDA (the published weights' dtype, and the one public recipes run it in),
    float32 elsewhere: a CPU gains nothing from half precision and is far slower in it."""
    import torch

    return torch.bfloat16 if getattr(device, "type", str(device)) == "cuda" else torch.float32
