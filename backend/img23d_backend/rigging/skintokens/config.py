"""SkinTokens' sizes, token ids and file names: what the networks are built from.

Where the facts come from (all read, none run):

* Files: the hub repository ``VAST-AI/SkinTokens`` at commit ``79736cad0fd84de384d5eede659b4ebd24effe33``, the
  checkpoint's sha256 ``f4e4706a...5692`` (both pinned in chris-straka/skintokens' ``fetch-weights.sh`` and
  ``PROVENANCE.md``, a port that checked its outputs against upstream's). The Qwen3 config's folder
  ``models/Qwen3-0.6B`` is upstream ``src/model/tokenrig.py``'s ``LLM_LOCAL_DIR``; that the hub repository holds
  ``models/Qwen3-0.6B/config.json`` at that path is DESIGN.md's reading, not checked against the hub here.
* Token ids: upstream ``src/tokenizer/tokenizer_part.py`` (``TokenizerPart.parse``) with the checkpoint's
  tokenizer config as the port reads it (256 bins over [-1, 1]; parts body/hand; classes rignet, vroid,
  articulation): coordinates 0-255, branch 256, bos 257, eos 258, pad 259, spring 260, parts 261-262, no class
  263, classes 264-266; 267 skeleton ids. Skin codes follow (``tokenizer.vocab_size + code``), then the
  language model's end: ``vocab = 267 + 8**5 + 1 = 33,036`` (upstream ``TokenRig.__init__``).
* Sizes: DESIGN.md ("Rigging: facts read in SkinTokens and UniRig") and the port's loader (``model.rs``:
  the shape encoder 8 heads, 8 layers, 8 frequencies, no pi, 512 queries; the skin VAE 12 heads, a condition
  encoder of one cross and 2 self blocks, a decoder of 10 self and one cross block, FSQ levels [8]*5, 8
  frequencies; 4 skin tokens per joint, 384 condition tokens). Both attention widths give 64 channels a head
  (512/8, 768/12): img23d reads every width and layer count from the checkpoint's shapes and derives the heads
  from that head size, so only the head size is assumed. The VAE's widths (768, latent 512) are the port's
  comments ("(N, 3072) feed-forward", "FSQ's 5 -> 512 projection"), used only for the full-size replica.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

REPO_ID = "VAST-AI/SkinTokens"
REVISION = "79736cad0fd84de384d5eede659b4ebd24effe33"  # the hub commit the port pins (see the docstring)
CHECKPOINT_SHA256 = "f4e4706a11cfb520cdde65156a0358545e4fbf8f36237aca01ea5e79d5cb5692"
CHECKPOINT_FILE = "experiments/articulation_xl_quantization_256_token_4/grpo_1400.ckpt"
QWEN_CONFIG_FILE = "models/Qwen3-0.6B/config.json"
FILES = (CHECKPOINT_FILE, QWEN_CONFIG_FILE)

# Skeleton token ids (module docstring).
NUM_DISCRETE = 256
BRANCH = 256
BOS = 257
EOS = 258
PAD = 259
SPRING = 260
PARTS = (261, 262)  # body, hand
CLS_NONE = 263
CLASSES = {"rignet": 264, "vroid": 265, "articulation": 266}
SKELETON_VOCAB = 267
PART_IDS_ALL = (SPRING, *PARTS)
CLASS_IDS_ALL = (CLS_NONE, *CLASSES.values())

ATTENTION_HEAD_SIZE = 64  # 512/8 in the shape encoder, 768/12 in the skin VAE
NUM_SAMPLES = 54_000  # surface samples a mesh is read through (DESIGN.md; the port's mesh.rs NUM_SAMPLES)


class _PointNetworkSizes:
    """What both point networks derive alike: heads of ``ATTENTION_HEAD_SIZE`` channels, and the input
    features of a sample: its position's embedding (xyz and a sine and cosine per coordinate and frequency,
    Fourier or phase alike) and its normal."""

    width: int
    num_freqs: int
    point_features: int

    @property
    def heads(self) -> int:
        return self.width // ATTENTION_HEAD_SIZE

    @property
    def in_features(self) -> int:
        return 3 * (2 * self.num_freqs + 1) + self.point_features


@dataclass(frozen=True)
class ShapeEncoderConfig(_PointNetworkSizes):
    """The perceiver over the surface samples (upstream ``mesh_encoder.encoder``, Michelangelo's layout)."""

    width: int = 512
    layers: int = 8
    num_freqs: int = 8
    queries: int = 512  # farthest-point samples of 4x as many random points
    point_features: int = 3  # the normals


@dataclass(frozen=True)
class SkinVAEConfig(_PointNetworkSizes):
    """The FSQ skin autoencoder's inference half (upstream ``vae.model``, ``SkinFSQCVAEModel``)."""

    width: int = 768
    latent: int = 512
    encoder_layers: int = 2  # self blocks after the condition encoder's cross block
    decoder_layers: int = 10  # self blocks before the decoder's cross block
    levels: tuple[int, ...] = (8, 8, 8, 8, 8)
    num_freqs: int = 8
    cond_queries: int = 384
    point_features: int = 3

    @property
    def codebook_size(self) -> int:
        return math.prod(self.levels)


@dataclass(frozen=True)
class LanguageModelConfig:
    """The Qwen3 decoder's sizes (Qwen3-0.6B's architecture, hidden 896 and TokenRig's vocabulary). Each field
    is named as ``transformers.Qwen3Config`` names it in the comment; ``loader`` reads the first six from the
    checkpoint's shapes and the last three from the Qwen3 folder's ``config.json``."""

    hidden: int = 896                 # hidden_size: embed_tokens' width
    layers: int = 28                  # num_hidden_layers
    heads: int = 16                   # num_attention_heads: q_proj's rows / head_dim
    kv_heads: int = 8                 # num_key_value_heads: k_proj's rows / head_dim
    head_dim: int = 128               # head_dim: q_norm's width
    intermediate: int = 3072          # intermediate_size: Qwen3-0.6B's, gate_proj's rows in the checkpoint
    rope_theta: float = 1_000_000.0   # rope_theta: the rotary embedding's base
    rms_norm_eps: float = 1e-6        # rms_norm_eps: every RMSNorm's epsilon
    max_positions: int = 40_960       # max_position_embeddings


@dataclass(frozen=True)
class SkinTokensConfig:
    """Everything the networks are built from; ``vocab`` follows from the skin codebook."""

    encoder: ShapeEncoderConfig = field(default_factory=ShapeEncoderConfig)
    vae: SkinVAEConfig = field(default_factory=SkinVAEConfig)
    lm: LanguageModelConfig = field(default_factory=LanguageModelConfig)
    tokens_per_joint: int = 4

    @property
    def vocab(self) -> int:
        return SKELETON_VOCAB + self.vae.codebook_size + 1

    @property
    def end(self) -> int:
        """The language model's end id (after the last skin code)."""
        return self.vocab - 1

    def qwen3_config(self):  # -> transformers.Qwen3Config (imported lazily with torch)
        """transformers' own Qwen3 configuration for these sizes, SDPA attention, tied head (Qwen3-0.6B ties)."""
        from transformers import Qwen3Config

        lm = self.lm
        config = Qwen3Config(
            vocab_size=self.vocab, hidden_size=lm.hidden, intermediate_size=lm.intermediate,
            num_hidden_layers=lm.layers, num_attention_heads=lm.heads, num_key_value_heads=lm.kv_heads,
            head_dim=lm.head_dim, rope_theta=lm.rope_theta, rms_norm_eps=lm.rms_norm_eps,
            max_position_embeddings=lm.max_positions, tie_word_embeddings=True, attention_bias=False,
            use_cache=True, bos_token_id=BOS, eos_token_id=self.end, pad_token_id=PAD,
        )
        config._attn_implementation = "sdpa"
        return config


FULL = SkinTokensConfig()
TINY = SkinTokensConfig(
    encoder=ShapeEncoderConfig(width=128, layers=1, queries=32),
    vae=SkinVAEConfig(width=128, latent=16, encoder_layers=1, decoder_layers=1, cond_queries=24),
    lm=LanguageModelConfig(hidden=32, layers=2, heads=4, kv_heads=2, head_dim=8, intermediate=64),
)


def with_lm(config: SkinTokensConfig, **sizes: float) -> SkinTokensConfig:
    """``config`` with some language-model sizes replaced (read from a checkpoint or a config file)."""
    return replace(config, lm=replace(config.lm, **sizes))
