"""FLUX.2 [klein] 4B's row (``ROW``, ``editors.editor.EditorRow``): where its files come from, its
spec, its folder's files, what one edit computes and the run the editors' time estimates are measured
from. FLUX.2 [klein] 4B (``black-forest-labs/FLUX.2-klein-4B``) edits a picture from an instruction (here:
fills in the hidden parts of an object's crop) through diffusers' ``Flux2KleinPipeline``; the default
editor (``--editor flux2-klein-4b``). Its replica is ``replica``'s, its code ``editor``'s.

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
* Text to image: the same pipeline without a reference picture (``Flux2KleinPipeline.__call__`` with
  ``image=None`` paints from the noise alone, at ``height`` x ``width``, 1,024 x 1,024 by default: its
  ``default_sample_size`` times the VAE's scale); its model card offers both, so its row says it makes
  pictures (``makes_pictures``: ``editors.text_picture``).
* The licence: Apache-2.0, the repository's ``LICENSE.md`` (ColorIt's and another installer's licence
  links point at it at this commit); the 9B variants are non-commercial and not offered.
* The size: 15.96 GB (decimal) of weights in bfloat16; with every file 15.97 GB.
"""

from __future__ import annotations

from ..editor import TINY_EDIT_PIXELS, EditorBenchmark, EditorRow, EditorWork
from ...models.specs import ModelSpec

NAME = "flux2-klein-4b"
KLEIN_REPO = "black-forest-labs/FLUX.2-klein-4B"
KLEIN_REVISION = "e7b7dc27f91deacad38e78976d1f2b499d76a294"
# Parameters per part (see the module docstring), 2 bytes each in bfloat16.
KLEIN_PARAMETERS = {"transformer": 3_875_544_576, "text_encoder": 4_022_468_096, "vae": 84_046_115}
KLEIN_BYTES = sum(KLEIN_PARAMETERS.values()) * 2

# Its folder, as diffusers' and transformers' ``save_pretrained`` lay it out: the text encoder (Qwen3-4B)
# in two shards with their index, the transformer and the VAE one file each, the Qwen tokenizer's seven
# files (the module docstring says where the list comes from; the folder's root also holds a single-file
# checkpoint of the same transformer, 7.75 GB, which diffusers' pipeline never reads and img23d does not
# fetch).
KLEIN_SHARDS = ("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors")
KLEIN_WEIGHTS = {"transformer": ("diffusion_pytorch_model.safetensors",),
                 "vae": ("diffusion_pytorch_model.safetensors",), "text_encoder": KLEIN_SHARDS}
KLEIN_TOKENIZER_FILES = ("added_tokens.json", "chat_template.jinja", "merges.txt", "special_tokens_map.json",
                         "tokenizer.json", "tokenizer_config.json", "vocab.json")
KLEIN_FILES = ("model_index.json", "scheduler/scheduler_config.json",
               *(f"{part}/{name}" for part, weights in KLEIN_WEIGHTS.items() for name in ("config.json", *weights)),
               "text_encoder/generation_config.json", "text_encoder/model.safetensors.index.json",
               *(f"tokenizer/{name}" for name in KLEIN_TOKENIZER_FILES))

# What a run takes by default (the module docstring says where from): steps and guidance for a
# distilled folder (``model_index.json``'s ``is_distilled``; a base one takes the pipeline's own), and
# the pixel area a crop is edited at, the most the pipeline keeps of a picture (it shrinks larger
# ones to 1024 x 1024's area: ``Flux2KleinPipeline.__call__``); and the most pictures it takes in one
# edit, the crop and the views beside it (Black Forest Labs' editing guide: "FLUX.2 [klein] 4B: up to 4"
# reference images; the pipeline itself takes any number, each as its own reference latents).
KLEIN_OPTIONS = {"editor": NAME, "distilled_steps": 4, "distilled_guidance": 1.0, "working_pixels": 1024 * 1024,
                 "pictures": 4, "part_parameters": KLEIN_PARAMETERS}

KLEIN_SPEC = ModelSpec(role="editor", repo_id=KLEIN_REPO, revision=KLEIN_REVISION, allow_patterns=KLEIN_FILES,
                       size_bytes=KLEIN_BYTES, exact_files=True, options=dict(KLEIN_OPTIONS))

# What one edit computes: 5 double and 20 single blocks of 24 x 128 (the module docstring), 4 steps, no
# guidance batch.
# Its instruction is padded to 512 tokens (Flux2KleinPipeline's ``max_sequence_length`` default, the
# tokenizer's padding="max_length"): 512 text tokens in every pass, at any area.
KLEIN_WORK = EditorWork(KLEIN_PARAMETERS["transformer"], 3072, 25, KLEIN_PARAMETERS["text_encoder"], passes=4,
                        published_bytes=KLEIN_BYTES, text_tokens=512)
# bench/results/completion-cpu.json: FLUX.2 [klein] 4B on the 2-core AMD EPYC (AVX-512), float32, the crop
# edited at 256 x 256 (512 tokens), two steps run (the second's transformer call taken: the first carries
# one-time costs), the machine quiet (load average 0.6 to 2.0). The probe read 186.3 GFLOP/s before the
# editor ran and 195.1 after: their mean is taken. Under other work the same CPU's probe has read 39 to 173,
# and an estimate moves with it. Every editor's estimate scales from it (``editors.costs``).
KLEIN_BENCHMARK = EditorBenchmark(gflops=190.7, pixels=256 * 256, tokens=512, encode_s=26.16, step_s=39.09,
                                  vae_encode_s=1.43, vae_s=1.43 + 2.98, rematte_s=20.05)

ROW = EditorRow(name=NAME, spec=KLEIN_SPEC, pipeline="Flux2KleinPipeline", work=KLEIN_WORK,
                tiny_options={**KLEIN_OPTIONS, "working_pixels": TINY_EDIT_PIXELS}, component="editor",
                benchmark=KLEIN_BENCHMARK, makes_pictures=True,
                most_edit_pixels=1024 * 1024)  # Flux2ImageProcessor.check_image_input's max_area
