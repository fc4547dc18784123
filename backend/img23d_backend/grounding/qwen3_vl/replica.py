"""The Qwen3-VL grounding replica: tokenizer, processor, config, weights.

``config(size)`` is the one definition of the architecture's sizes (``tiny`` for the tests,
``full`` as Qwen3-VL-2B-Instruct was published); ``build`` writes ``save_pretrained`` of model
and processor. Both sizes use the same offline byte-level tokenizer (ids < 300, so prompts
tokenise to more, shorter tokens than with the real 151k-token BPE; the full size keeps the
real embedding table). The weights are random (seeded), wired at both sizes to give the fixed
answer of ``grounding_answer`` whatever the image and prompt.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...models.replica_common import Size, check_size, default_dtype, parameters, prepare_imports, seeded
from ...models.replica_tokenizers import qwen_tokenizer
from .replica_answer import DEFAULT_ANSWER, FixedAnswer, answer_chain, answer_pieces, loop_start, wire_fixed_answer


@dataclass(frozen=True)
class QwenDims:
    """Qwen3VLConfig's sizes at one replica size (the rest is common to both)."""

    seed: int
    init_dtype: str                      # made in this dtype; saved as bfloat16, like the real checkpoint
    # Characters per token of the fixed answer (see grounding_answer.answer_pieces); None: one per line.
    answer_chars: int | None
    vocab: int | None                    # None: the tokenizer's size, rounded up to 64
    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    max_positions: int
    mrope_section: tuple[int, int, int]  # (temporal, height, width), summing to head_dim / 2
    tied_embeddings: bool
    vision_depth: int
    vision_hidden: int
    vision_intermediate: int
    vision_heads: int
    vision_positions: int                # a square grid of learned position embeddings
    deepstack: tuple[int, ...]           # vision layers fed to the text model, below vision_depth
    # The processor's (shortest_edge, longest_edge): Qwen2-VL/Qwen3-VL processors read them as
    # the minimum and maximum *pixel count*, then snap each side to a multiple of 32.
    image_pixels: tuple[int, int]
    video_pixels: tuple[int, int]


# 256*256 pixels keeps a 1024x1024 photo at 256x256, i.e. 16x16 patches -> 64 image tokens.
TINY = QwenDims(
    seed=1234, init_dtype="float32", answer_chars=None, vocab=None,
    hidden=64, intermediate=128, layers=2, heads=4, kv_heads=2, head_dim=16, max_positions=8192,
    mrope_section=(2, 3, 3), tied_embeddings=False,
    vision_depth=2, vision_hidden=32, vision_intermediate=64, vision_heads=2, vision_positions=64,
    deepstack=(0, 1), image_pixels=(32 * 32, 256 * 256), video_pixels=(32 * 32, 256 * 256),
)

# Qwen3-VL-2B-Instruct as published. Confirmed (two independent copies of the published
# config.json, in test fixtures of two inference engines): text vocab 151936, hidden 2048, 28
# layers, 16 heads, 8 KV heads, head_dim 128, intermediate 6144, rms_norm_eps 1e-6,
# max_position_embeddings 262144, rope_theta 5e6, interleaved mrope sections [24, 20, 20], tied
# word embeddings; vision depth 24, hidden 1024, 16 heads, intermediate 4096, gelu_pytorch_tanh,
# patch 16, temporal patch 2, spatial merge 2, 2304 position embeddings, out_hidden_size 2048,
# deepstack indexes [5, 11, 17]. Special-token ids of the real tokenizer (151643/151645/151652/
# 151653/151655/151656) were seen too but are not used: the tokenizer is the offline one. Inferred:
# the processor's pixel limits (shortest_edge 65536, longest_edge 16777216 pixels; video 4096 /
# 25165824) are the values of a sibling model of the family. The fixed answer comes two or more
# characters a token: about 230 tokens, where Qwen's BPE (digits one by one) gives it ~380.
FULL = QwenDims(
    seed=11_000, init_dtype="bfloat16", answer_chars=2, vocab=151_936,
    hidden=2048, intermediate=6144, layers=28, heads=16, kv_heads=8, head_dim=128, max_positions=262_144,
    mrope_section=(24, 20, 20), tied_embeddings=True,
    vision_depth=24, vision_hidden=1024, vision_intermediate=4096, vision_heads=16, vision_positions=2304,
    deepstack=(5, 11, 17), image_pixels=(65_536, 16_777_216), video_pixels=(4_096, 25_165_824),
)


def config(size: Size) -> QwenDims:
    return {"tiny": TINY, "full": FULL}[check_size(size)]


# Token names of the Qwen chat/vision protocol, in the real vocabulary's order.
SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
)

# Own minimal Qwen chat template: "<|im_start|>{role}\n{content}<|im_end|>\n" per message,
# images/videos as the vision placeholder triple, "<|im_start|>assistant\n" as generation prompt.
CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' -}}"
    "{%- if message['content'] is string -%}"
    "{{- message['content'] -}}"
    "{%- else -%}"
    "{%- for item in message['content'] -%}"
    "{%- if item['type'] == 'image' -%}"
    "{{- '<|vision_start|><|image_pad|><|vision_end|>' -}}"
    "{%- elif item['type'] == 'video' -%}"
    "{{- '<|vision_start|><|video_pad|><|vision_end|>' -}}"
    "{%- elif item['type'] == 'text' -%}"
    "{{- item['text'] -}}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- endif -%}"
    "{{- '<|im_end|>\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}"
    "{{- '<|im_start|>assistant\\n' -}}"
    "{%- endif -%}"
)

def tokenizer(dims: QwenDims, answer: FixedAnswer = DEFAULT_ANSWER) -> Any:
    """A byte-level Qwen2 tokenizer: 256 byte tokens, no merges, the Qwen special tokens, and the fixed
    answer's pieces as added tokens (not special: ``skip_special_tokens=True`` keeps them in the answer)."""
    return qwen_tokenizer(SPECIAL_TOKENS, CHAT_TEMPLATE, max_length=262144,
                          added=answer_pieces(dims.answer_chars, answer))


def processor(tokenizer: Any, dims: QwenDims) -> Any:
    from transformers import Qwen2VLImageProcessorFast, Qwen3VLProcessor
    from transformers.models.qwen3_vl.video_processing_qwen3_vl import Qwen3VLVideoProcessor

    # Patch/merge sizes and normalisation as in the real Qwen3-VL preprocessor config.
    common = dict(patch_size=16, temporal_patch_size=2, merge_size=2,
                  image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5])
    image, video = ({"shortest_edge": low, "longest_edge": high} for low, high in (dims.image_pixels, dims.video_pixels))
    return Qwen3VLProcessor(
        image_processor=Qwen2VLImageProcessorFast(size=image, **common),
        tokenizer=tokenizer,
        video_processor=Qwen3VLVideoProcessor(size=video, **common),
        chat_template=CHAT_TEMPLATE,
    )


def qwen_config(dims: QwenDims, tokenizer: Any) -> tuple[Any, Any]:
    """The Qwen3VLConfig and GenerationConfig at ``dims``, with token ids from ``tokenizer``."""
    from transformers import GenerationConfig, Qwen3VLConfig

    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    vocab = dims.vocab or 64 * -(-len(tokenizer) // 64)
    if len(tokenizer) > vocab:
        raise ValueError("the tokenizer does not fit the vocabulary size")
    text = dict(
        vocab_size=vocab, hidden_size=dims.hidden, intermediate_size=dims.intermediate,
        num_hidden_layers=dims.layers, num_attention_heads=dims.heads, num_key_value_heads=dims.kv_heads,
        head_dim=dims.head_dim, hidden_act="silu", rms_norm_eps=1e-6, max_position_embeddings=dims.max_positions,
        rope_theta=5_000_000.0,
        rope_scaling={"rope_type": "default", "mrope_section": list(dims.mrope_section), "mrope_interleaved": True},
        attention_bias=False, tie_word_embeddings=dims.tied_embeddings,
        bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"],
    )
    vision = dict(
        depth=dims.vision_depth, hidden_size=dims.vision_hidden, intermediate_size=dims.vision_intermediate,
        num_heads=dims.vision_heads, hidden_act="gelu_pytorch_tanh", in_channels=3, patch_size=16,
        spatial_merge_size=2, temporal_patch_size=2,
        out_hidden_size=dims.hidden,  # the merger's output feeds the text model directly
        num_position_embeddings=dims.vision_positions, deepstack_visual_indexes=list(dims.deepstack),
    )
    model_config = Qwen3VLConfig(
        text_config=text, vision_config=vision,
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=dims.tied_embeddings,
    )
    generation = GenerationConfig(
        bos_token_id=ids["<|endoftext|>"],
        eos_token_id=[ids["<|im_end|>"], ids["<|endoftext|>"]],
        pad_token_id=ids["<|endoftext|>"],
    )
    return model_config, generation


def construct(dims: QwenDims) -> dict[str, Any]:
    """The model, in the current device context (the meta device counts it)."""
    prepare_imports()
    from transformers import Qwen3VLForConditionalGeneration

    model_config, _ = qwen_config(dims, tokenizer(dims))
    return {"model": Qwen3VLForConditionalGeneration(model_config)}


def build(dest: Path, dims: QwenDims, answer: FixedAnswer = DEFAULT_ANSWER) -> dict[str, Any]:
    """Write the model and processor into ``dest``, wired to give ``answer``; return the manifest entry."""
    prepare_imports()
    import torch
    from transformers import Qwen3VLForConditionalGeneration

    words = tokenizer(dims, answer)
    model_config, generation = qwen_config(dims, words)
    chain = answer_chain(words, dims.answer_chars, answer)
    loop = loop_start(dims.answer_chars, answer)
    with seeded(dims.seed), default_dtype(dims.init_dtype):
        model = Qwen3VLForConditionalGeneration(model_config)
        wire_fixed_answer(model, chain, loop_to=None if loop is None else loop + 1)  # + 1: the trigger
    model.generation_config = generation
    # Real Qwen3-VL checkpoints are bfloat16; the crafted margins survive the rounding.
    model.to(torch.bfloat16)
    params = {"text": parameters(model.model.language_model), "vision": parameters(model.model.visual)}
    model.save_pretrained(dest, safe_serialization=True)
    processor(words, dims).save_pretrained(dest)
    del model
    return {
        "class": "Qwen3VLForConditionalGeneration", "dtype": "bfloat16", "params": params,
        "grounding": "fixed-answer", "answer": answer.text, "answer_tokens": len(chain) - 1,
        **({} if answer.loop_from is None else {"loops_from": answer.loop_from}),
        "image_processor_size": {"shortest_edge": dims.image_pixels[0], "longest_edge": dims.image_pixels[1]},
        "note": "random weights wired so greedy decoding always emits answer then <|im_end|>, whatever "
                "the image and prompt; exercises generate/decode/parse, not detection",
    }
