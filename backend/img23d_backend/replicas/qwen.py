"""The Qwen3-VL grounding replica: tokenizer, processor, config and the fixed-answer wiring.

``build_qwen3_vl`` writes ``save_pretrained`` of model and processor. The weights are random
(seeded) except that greedy decoding always answers ``TINY_GROUNDING_ANSWER`` then
``<|im_end|>``, whatever the image and prompt: it exercises generate/decode/parse, not
detection quality.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from .common import prepare_imports, seeded

# The fixed answer the tiny grounding model emits (Qwen3-VL style 0..1000 relative boxes).
# Deliberately messy (code fence, trailing prose) so the production parser is exercised.
TINY_GROUNDING_ANSWER: str = (
    "```json\n"
    "[\n"
    '  {"bbox_2d": [185, 105, 880, 860], "label": "house"},\n'
    '  {"bbox_2d": [600, 80, 745, 580], "label": "chimney"},\n'
    '  {"bbox_2d": [365, 600, 460, 840], "label": "door"},\n'
    '  {"bbox_2d": [108, 685, 205, 845], "label": "tree"},\n'
    '  {"bbox_2d": [840, 718, 912, 820], "label": "tree"},\n'
    '  {"bbox_2d": [720, 840, 775, 885], "label": "barrel"},\n'
    '  {"bbox_2d": [812, 822, 862, 865], "label": "barrel"},\n'
    '  {"bbox_2d": [205, 740, 255, 780], "label": "barrel"},\n'
    '  {"bbox_2d": [168, 815, 238, 873], "label": "rock"},\n'
    '  {"bbox_2d": [740, 785, 878, 855], "label": "rock"},\n'
    '  {"bbox_2d": [228, 835, 440, 945], "label": "stairs"}\n'
    "]\n"
    "```\n"
    "These are the objects I found in the image."
)

# Image-processor pixel budget. Qwen2-VL/Qwen3-VL processors read size["longest_edge"] as the
# maximum *pixel count* and size["shortest_edge"] as the minimum, then snap each side to a
# multiple of patch_size * merge_size (32). 256*256 keeps a 1024x1024 photo at 256x256 pixels,
# i.e. 16x16 patches -> 64 image tokens.
QWEN_MAX_PIXELS = 256 * 256
QWEN_MIN_PIXELS = 32 * 32

# Token names of the Qwen chat/vision protocol, in the real vocabulary's order.
_QWEN_SPECIAL_TOKENS = (
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
_QWEN_CHAT_TEMPLATE = (
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

# The generation prompt ends with this token; its successor starts the fixed answer.
_ANSWER_TRIGGER = "\n"
_SEED_QWEN = 1234


def _answer_pieces() -> list[str]:
    """The fixed answer split into lines; each becomes one added token used exactly once."""
    pieces = TINY_GROUNDING_ANSWER.splitlines(keepends=True)
    if len(set(pieces)) != len(pieces):
        raise ValueError("answer pieces must be unique so every token has a single successor")
    return pieces


def _build_qwen_tokenizer() -> Any:
    """A byte-level Qwen2 tokenizer: 256 byte tokens, no merges, the Qwen special tokens."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
    from transformers import Qwen2TokenizerFast
    from transformers.models.gpt2.tokenization_gpt2 import bytes_to_unicode

    byte_chars = bytes_to_unicode()
    vocab = {byte_chars[b]: b for b in range(256)}  # id == byte value
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    backend.decoder = decoders.ByteLevel()
    backend.add_special_tokens(
        [AddedToken(t, special=True, normalized=False) for t in _QWEN_SPECIAL_TOKENS]
    )
    # Non-special so that skip_special_tokens=True keeps them in the decoded answer.
    backend.add_tokens([AddedToken(p, special=False, normalized=False) for p in _answer_pieces()])
    return Qwen2TokenizerFast(
        tokenizer_object=backend,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        model_max_length=262144,
        chat_template=_QWEN_CHAT_TEMPLATE,
    )


def _build_qwen_processor(tokenizer: Any) -> Any:
    from transformers import Qwen2VLImageProcessorFast, Qwen3VLProcessor
    from transformers.models.qwen3_vl.video_processing_qwen3_vl import Qwen3VLVideoProcessor

    pixels = {"shortest_edge": QWEN_MIN_PIXELS, "longest_edge": QWEN_MAX_PIXELS}
    # Patch/merge sizes and normalisation as in the real Qwen3-VL preprocessor config.
    common = dict(patch_size=16, temporal_patch_size=2, merge_size=2,
                  image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5])
    image_processor = Qwen2VLImageProcessorFast(size=dict(pixels), **common)
    video_processor = Qwen3VLVideoProcessor(size=dict(pixels), **common)
    return Qwen3VLProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        video_processor=video_processor,
        chat_template=_QWEN_CHAT_TEMPLATE,
    )


def _qwen_config(tokenizer: Any) -> tuple[Any, Any]:
    """The tiny Qwen3VLConfig and its GenerationConfig, with ids from ``tokenizer``."""
    from transformers import GenerationConfig, Qwen3VLConfig

    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in _QWEN_SPECIAL_TOKENS}
    vocab_size = 64 * math.ceil(len(tokenizer) / 64)
    head_dim = 16
    text = dict(
        vocab_size=vocab_size, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, head_dim=head_dim,
        max_position_embeddings=8192, rope_theta=5_000_000.0,
        # mrope sections (temporal, height, width) must sum to head_dim / 2.
        rope_scaling={"rope_type": "default", "mrope_section": [2, 3, 3], "mrope_interleaved": True},
        tie_word_embeddings=False,
        bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"],
    )
    vision = dict(
        depth=2, hidden_size=32, intermediate_size=64, num_heads=2, patch_size=16,
        spatial_merge_size=2, temporal_patch_size=2,
        out_hidden_size=text["hidden_size"],  # merger output feeds the text model directly
        num_position_embeddings=64,  # an 8x8 grid (must be a perfect square)
        deepstack_visual_indexes=[0, 1],  # below depth
    )
    config = Qwen3VLConfig(
        text_config=text, vision_config=vision,
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=False,
    )
    generation = GenerationConfig(
        bos_token_id=ids["<|endoftext|>"],
        eos_token_id=[ids["<|im_end|>"], ids["<|endoftext|>"]],
        pad_token_id=ids["<|endoftext|>"],
    )
    return config, generation


def _answer_chain(tokenizer: Any) -> list[int]:
    """Token ids: trigger, answer pieces in order, then <|im_end|>."""
    trigger = tokenizer.encode(_ANSWER_TRIGGER, add_special_tokens=False)
    if len(trigger) != 1:
        raise ValueError(f"the generation-prompt trigger must be one token, got {trigger}")
    pieces = [tokenizer.convert_tokens_to_ids(p) for p in _answer_pieces()]
    return trigger + pieces + [tokenizer.convert_tokens_to_ids("<|im_end|>")]


def _wire_fixed_answer(model: Any, chain: list[int], logit_margin: float = 32.0) -> None:
    """Make greedy decoding follow ``chain``: after token chain[i] always comes chain[i+1].

    With every decoder layer's output projections zeroed the residual stream at a text
    position is just its token embedding (deepstack only adds to image positions), so the
    next-token logits depend on the current token alone. Source tokens get orthonormal
    embedding directions and each successor's lm_head row is aligned with its source, so the
    successor's logit is ``logit_margin`` while competing chain rows score ~0.
    """
    import torch

    lm = model.model.language_model
    with torch.no_grad():
        for layer in lm.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        lm.norm.weight.fill_(1.0)
        emb = lm.embed_tokens.weight
        dim = emb.shape[1]
        sources, successors = chain[:-1], chain[1:]
        basis, _ = torch.linalg.qr(torch.randn(dim, len(sources)))  # orthonormal columns
        emb_scale = float(emb.pow(2).mean().sqrt())
        for i, (src, dst) in enumerate(zip(sources, successors)):
            direction = basis[:, i]
            # After the final RMSNorm (weight 1) this row becomes sqrt(dim) * direction.
            emb[src] = direction * emb_scale * math.sqrt(dim)
            model.lm_head.weight[dst] += direction * (logit_margin / math.sqrt(dim))


def build_qwen3_vl(dest: Path) -> dict[str, Any]:
    prepare_imports()
    import torch
    from transformers import Qwen3VLForConditionalGeneration

    tokenizer = _build_qwen_tokenizer()
    processor = _build_qwen_processor(tokenizer)
    config, generation = _qwen_config(tokenizer)
    with seeded(_SEED_QWEN):
        model = Qwen3VLForConditionalGeneration(config)
        _wire_fixed_answer(model, _answer_chain(tokenizer))
    model.generation_config = generation
    # Real Qwen3-VL checkpoints are bfloat16; the crafted margins survive the rounding.
    model.to(torch.bfloat16)
    model.save_pretrained(dest, safe_serialization=True)
    processor.save_pretrained(dest)
    return {
        "path": dest.name,
        "class": "Qwen3VLForConditionalGeneration",
        "grounding": "fixed-answer",
        "note": "random weights wired so greedy decoding always emits answer then <|im_end|>, "
        "whatever the image and prompt; exercises generate/decode/parse, not detection",
        "answer": TINY_GROUNDING_ANSWER,
        "image_processor_size": {"shortest_edge": QWEN_MIN_PIXELS, "longest_edge": QWEN_MAX_PIXELS},
    }
