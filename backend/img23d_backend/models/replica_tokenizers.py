"""The tokenizers the replicas ship: byte-level BPE without merges, so every byte (or character) is a
token and any text tokenizes without a trained vocabulary.

Two kinds serve every replica that needs one: CLIP's (the Stable Diffusion text encoders' vocabulary)
and Qwen2's fast one (the Qwen language models'). Each builder passes what its model differs in: the
padding token, the special tokens, the chat template, the length. Beside ``replica_common`` for the same
reason: below the families and the rooms, so that each of their builders imports it and none imports
another.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

CLIP_BOS, CLIP_EOS = "<|startoftext|>", "<|endoftext|>"
CLIP_MAX_LENGTH = 77


def clip_tokenizer(pad: str = CLIP_EOS) -> Any:
    """A byte-level CLIP tokenizer with no merges, its two special tokens last (end-of-text the largest
    id, as in the real vocabulary), padding with ``pad`` (SDXL's second tokenizer and Stable Diffusion
    2's pad with "!"). CLIPTokenizer reads its vocabulary from files only: they are written to a
    scratch folder first; the caller's ``save_pretrained`` writes the copies that ship."""
    from transformers import CLIPTokenizer
    from transformers.models.gpt2.tokenization_gpt2 import bytes_to_unicode

    chars = [bytes_to_unicode()[b] for b in range(256)]
    tokens = chars + [c + "</w>" for c in chars] + [CLIP_BOS, CLIP_EOS]
    with tempfile.TemporaryDirectory(prefix="tiny-clip-") as scratch:
        vocab, merges = Path(scratch) / "vocab.json", Path(scratch) / "merges.txt"
        vocab.write_text(json.dumps({t: i for i, t in enumerate(tokens)}, ensure_ascii=False), encoding="utf-8")
        merges.write_text("#version: 0.2\n", encoding="utf-8")
        return CLIPTokenizer(str(vocab), str(merges), model_max_length=CLIP_MAX_LENGTH, pad_token=pad)


def qwen_tokenizer(special: Sequence[str], chat_template: str, max_length: int, added: Sequence[str] = ()) -> Any:
    """A byte-level Qwen2 fast tokenizer: 256 byte tokens (id = byte), no merges, the ``special``
    tokens from id 256 on, then ``added`` as ordinary tokens (kept when special tokens are skipped in
    decoding), ending turns with ``<|im_end|>`` and padding with ``<|endoftext|>`` as Qwen's do."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
    from transformers import Qwen2TokenizerFast
    from transformers.models.gpt2.tokenization_gpt2 import bytes_to_unicode

    byte_chars = bytes_to_unicode()
    backend = Tokenizer(models.BPE(vocab={byte_chars[b]: b for b in range(256)}, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    backend.decoder = decoders.ByteLevel()
    backend.add_special_tokens([AddedToken(token, special=True, normalized=False) for token in special])
    if added:
        backend.add_tokens([AddedToken(token, special=False, normalized=False) for token in added])
    return Qwen2TokenizerFast(tokenizer_object=backend, bos_token=None, eos_token="<|im_end|>",
                              pad_token="<|endoftext|>", unk_token=None, model_max_length=max_length,
                              chat_template=chat_template)
