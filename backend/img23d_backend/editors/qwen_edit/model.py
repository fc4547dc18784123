"""Qwen-Image-Edit-2511's row (``ROW``, ``editors.editor.EditorRow``): where its files come from, its
spec, its folder's files and what one edit computes. Qwen-Image-Edit-2511 (``Qwen/Qwen-Image-Edit-2511``,
Alibaba's Qwen team) is a 20B MMDiT that edits a picture from an instruction through diffusers'
``QwenImageEditPlusPipeline``, its text encoder Qwen2.5-VL-7B reading the picture as well as the
instruction; the large editor (``--editor qwen-image-edit-2511``), for a large GPU (``editors.memory``
says how large). Its replica is ``replica``'s, its code ``editor``'s.

Where each fact comes from (the hub cannot be reached from where this was written):

* The revision ``6f3ccc0b56e431dc6a0c2b2039706d7d26f22cb9``: github.com/Vineet-Vinod/ColorIt,
  ``src/pipeline/image_edit_weights.py`` (``IMAGE_EDIT_MODELS["qwen_image_edit_2511"]``, every weights
  file with its size and sha256, checked after download), and several other public projects that pin
  the same commit: a curated model registry with the same eleven weights files, sizes and digests; an
  integration config ("Immutable checkpoint revision validated by this integration"); a downloader
  script; a serving script's snapshot path; a write-up that opened this snapshot's shards and counted
  their keys (transformer 483 + 468 + 466 + 474 + 42 = 1,933, the index's; text encoder 459 + 131 + 122
  + 17 = 729; VAE 194 keys in 253,806,966 bytes).
* The files: ColorIt's list, 33 files: ``model_index.json``, ``scheduler/scheduler_config.json``,
  ``processor/`` (``added_tokens.json``, ``chat_template.jinja``, ``merges.txt``,
  ``preprocessor_config.json``, ``special_tokens_map.json``, ``tokenizer_config.json``,
  ``video_preprocessor_config.json``, ``vocab.json``, ``tokenizer.json`` 11,421,896 B), ``text_encoder/``
  (``config.json``, ``generation_config.json``, ``model.safetensors.index.json``,
  ``model-0000{1..4}-of-00004.safetensors``: 4,968,243,304 + 4,991,495,816 + 4,932,751,040 +
  1,691,924,384 B), ``tokenizer/`` (the six files of a slow ``Qwen2Tokenizer``, no ``tokenizer.json``),
  ``transformer/`` (``config.json``, ``diffusion_pytorch_model.safetensors.index.json``,
  ``diffusion_pytorch_model-0000{1..5}-of-00005.safetensors``: 9,973,578,592 + 9,987,326,072 +
  9,987,307,440 + 9,930,685,712 + 982,130,472 B) and ``vae/`` (``config.json``,
  ``diffusion_pytorch_model.safetensors`` 253,806,966 B). The shards are what transformers' 5 GB and
  diffusers' 10 GB default shard limits make of these sizes.
* The architecture: ``QwenImageTransformer2DModel``'s defaults (60 layers, 24 heads of 128, joint
  attention 3584, rope axes 16/56/56) with ``zero_cond_t`` on (2511's one config difference from the
  2509 edit model, as a public port that reads its config says), ``AutoencoderKLQwenImage``'s defaults,
  and Qwen2.5-VL-7B-Instruct's published config (``replica`` lists it). Counted on the
  meta device: 20,430,401,088 parameters (1,933 tensors), 8,292,166,656 (729) and 126,892,531 (194):
  at 2 bytes each these are the files' sizes less their headers (226 kB, 81 kB, 22 kB), and the tensor
  counts are the ones counted in the published shards, so the files are bfloat16 and hold these keys.
* Defaults: 40 steps, true classifier-free guidance 4.0 with the negative instruction " " (a single
  space), the model card's example, as the integration config pinned at this revision restates it
  ("used by the official 2511 example"); the pipeline's own ``__call__`` defaults are 50 steps and
  ``true_cfg_scale`` 4.0. The transformer has no guidance embedding, so ``guidance_scale`` is left None.
  The pipeline edits at 1024 x 1024's area and reads the picture at 384 x 384's area into the text
  encoder (its ``VAE_IMAGE_SIZE`` and ``CONDITION_IMAGE_SIZE``).
* The scheduler: Qwen-Image's flow-matching config (shift 1, dynamic shifting 0.5 to 0.9 between 256
  and 8,192 tokens, exponential time shift, terminal 0.02), as public trainers and ports restate the
  published ``scheduler_config.json``.
* The licence: Apache-2.0 (the model card's licence tag; ColorIt and the curated registry record
  ``apache-2.0`` at this commit).
* The size: 57.70 GB (decimal) of bfloat16 weights (53.7 GiB); 57.71 GB with ``processor/tokenizer.json``,
  and a few MB more of vocabularies and configs (their sizes are not in the list).
"""

from __future__ import annotations

from ..editor import TINY_EDIT_PIXELS, EditorRow, EditorWork
from ...models.specs import ModelSpec

NAME = "qwen-image-edit-2511"
QWEN_EDIT_REPO = "Qwen/Qwen-Image-Edit-2511"
QWEN_EDIT_REVISION = "6f3ccc0b56e431dc6a0c2b2039706d7d26f22cb9"
# Parameters per part (see the module docstring), 2 bytes each in bfloat16.
QWEN_EDIT_PARAMETERS = {"transformer": 20_430_401_088, "text_encoder": 8_292_166_656, "vae": 126_892_531}
QWEN_EDIT_BYTES = sum(QWEN_EDIT_PARAMETERS.values()) * 2
# Its folder, as diffusers' and transformers' ``save_pretrained`` lay it out (the module docstring says
# where the list comes from): the text encoder (Qwen2.5-VL-7B) in four shards and the transformer in five,
# each with its index, the VAE in one file, the processor the text encoder reads the picture and the
# instruction through (``processor/``, with its fast tokenizer) and the pipeline's slow tokenizer
# (``tokenizer/``, no ``tokenizer.json``).
QWEN_EDIT_TEXT_SHARDS = tuple(f"model-0000{n}-of-00004.safetensors" for n in range(1, 5))
QWEN_EDIT_TRANSFORMER_SHARDS = tuple(f"diffusion_pytorch_model-0000{n}-of-00005.safetensors" for n in range(1, 6))
QWEN_EDIT_WEIGHTS = {"transformer": QWEN_EDIT_TRANSFORMER_SHARDS, "vae": ("diffusion_pytorch_model.safetensors",),
                     "text_encoder": QWEN_EDIT_TEXT_SHARDS}
QWEN_EDIT_INDEXES = {"transformer": "diffusion_pytorch_model.safetensors.index.json",
                     "text_encoder": "model.safetensors.index.json"}
QWEN_EDIT_TOKENIZER_FILES = ("added_tokens.json", "chat_template.jinja", "merges.txt", "special_tokens_map.json",
                             "tokenizer_config.json", "vocab.json")
QWEN_EDIT_PROCESSOR_FILES = (*QWEN_EDIT_TOKENIZER_FILES, "preprocessor_config.json", "tokenizer.json",
                             "video_preprocessor_config.json")
QWEN_EDIT_FILES = ("model_index.json", "scheduler/scheduler_config.json",
                   *(f"{part}/{name}" for part, weights in QWEN_EDIT_WEIGHTS.items()
                     for name in ("config.json", *weights)),
                   *(f"{part}/{name}" for part, name in QWEN_EDIT_INDEXES.items()),
                   "text_encoder/generation_config.json",
                   *(f"tokenizer/{name}" for name in QWEN_EDIT_TOKENIZER_FILES),
                   *(f"processor/{name}" for name in QWEN_EDIT_PROCESSOR_FILES))

# What a run takes by default (the module docstring says where from), the area a crop is edited at, and
# the most pictures one edit takes: multi-image editing came with 2509, whose model card gives its best
# range as "1 to 3 input images", and 2511 builds on it
# (the pipeline's prompt template numbers any count, "Picture 1: ... Picture 2: ...").
QWEN_EDIT_OPTIONS = {"editor": NAME, "steps": 40, "true_cfg_scale": 4.0, "negative_prompt": " ",
                     "working_pixels": 1024 * 1024, "pictures": 3,
                     "part_parameters": QWEN_EDIT_PARAMETERS}

QWEN_EDIT_SPEC = ModelSpec(role="editor", repo_id=QWEN_EDIT_REPO, revision=QWEN_EDIT_REVISION,
                           allow_patterns=QWEN_EDIT_FILES, size_bytes=QWEN_EDIT_BYTES, exact_files=True,
                           options=dict(QWEN_EDIT_OPTIONS))

# What one edit computes: 60 blocks of 24 x 128, 40 steps with true guidance (two passes each).
# Its instruction's tokens: Qwen2.5-VL's reading of the crop at QwenImageEditPlusPipeline's CONDITION_IMAGE_SIZE
# (384 x 384, 28 x 28 pixels a merged token: about 188) and the instruction's words after the template's 64
# dropped tokens: about 220, not padded (an estimate from the pipeline's constants, not a measured count).
QWEN_EDIT_WORK = EditorWork(QWEN_EDIT_PARAMETERS["transformer"], 3072, 60, QWEN_EDIT_PARAMETERS["text_encoder"],
                            passes=80, published_bytes=QWEN_EDIT_BYTES, text_tokens=220)

# Its tiny replica edits at the small area in two steps instead of forty (its path through the pipeline
# does not change with the count).
ROW = EditorRow(name=NAME, spec=QWEN_EDIT_SPEC, pipeline="QwenImageEditPlusPipeline", work=QWEN_EDIT_WORK,
                tiny_options={**QWEN_EDIT_OPTIONS, "working_pixels": TINY_EDIT_PIXELS, "steps": 2},
                component="qwen-editor")
