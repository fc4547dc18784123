"""One mesh to one rig with SkinTokens: samples, shape prefix, tokens, skeleton, skin, per-vertex weights.

Upstream's order (``TokenRig.generate`` then ``decode``): the condition latents of the skin VAE and the
shape prefix from the same samples; the start tokens ``[bos, class]`` after the prefix; generation; the
skeleton read up to its ``eos``; each joint's four codes decoded to a weight at every sample. The joints
come back in the mesh's own frame (the fit into [-1, 1] undone), the weights on the mesh's vertices.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ...models.preflight import RESERVE_BYTES, free_room
from .config import BOS, CLASSES, CLS_NONE, EOS, NUM_SAMPLES, SKELETON_VOCAB
from .decoding import DecodingSettings, beam_search
from .grammar import GrammarMask
from .model import TokenRig
from .surface import Normalisation, choose_queries, nearest_sample, sample_surface, top_four
from .tokens import detokenize


@dataclass(frozen=True)
class RigSettings:
    """What a run may change. ``cls`` picks the class token ("articulation" is the training set this
    checkpoint is named for; which class upstream's demo passes was not read: an assumption)."""

    decoding: DecodingSettings = field(default_factory=DecodingSettings)
    cls: str | None = "articulation"
    samples: int = NUM_SAMPLES
    decode_chunk: int = 16_384
    # Memory the skin decoding may take beside the model: None, what is free on the device when it starts (the
    # host's on a CPU) less the reserve every stage keeps; 0, no bound (every joint at once).
    skin_bytes: int | None = None


# The skin decoder's activations per joint and per sample asked at once, in bfloat16: the H200 peaked at
# 13.9 GB for 50 joints in one batch with 16,384 samples a chunk (issue 74), less the model's 1.09 GB of weights
# (544 M parameters): about 15.6 kB a (joint, sample) pair; twice that in float32 (derived, not measured).
SKIN_PAIR_BYTES_BF16 = 15_600


def skin_room(device: torch.device) -> int:
    """What the skin decoding may take now on ``device``: its free memory (the host's on a CPU) less the reserve."""
    room = free_room(device)
    return max(1, (room.host if room.shared else room.device) - RESERVE_BYTES)


def skin_batch_bytes(chunk: int, itemsize: int) -> int:
    """One more joint in the skin decoding's batch, ``chunk`` samples asked at once, weights of ``itemsize``."""
    return chunk * SKIN_PAIR_BYTES_BF16 * itemsize // 2


def skin_batch(joints: int, chunk: int, budget: int, itemsize: int) -> int:
    """How many joints the skin decoding asks at once within ``budget`` bytes (0: all); at least one."""
    if budget <= 0:
        return joints
    return max(1, min(joints, int(budget // skin_batch_bytes(chunk, itemsize))))


@dataclass
class SkinTokensRig:
    """A rig in the mesh's frame: joint heads and tails, parents (-1 for the root), each vertex's four
    strongest joints and their weights (summing to 1), and the tokens that made it."""

    joints: np.ndarray  # (J, 3) float32
    tails: np.ndarray  # (J, 3) float32
    parents: np.ndarray  # (J,) int64
    vertex_joints: np.ndarray  # (V, 4) int64
    vertex_weights: np.ndarray  # (V, 4) float32
    tokens: list[int]


def start_tokens(cls: str | None) -> list[int]:
    return [BOS, CLASSES.get(cls, CLS_NONE) if cls else CLS_NONE]


@torch.no_grad()
def rig_mesh(model: TokenRig, vertices: np.ndarray, faces: np.ndarray, settings: RigSettings = RigSettings()) -> SkinTokensRig:
    """Rig a mesh given in the model's frame (+Y up). Seeded by ``settings.decoding.seed``."""
    device = next(model.parameters()).device
    fit = Normalisation.fit(vertices)
    generator = torch.Generator().manual_seed(settings.decoding.seed)
    v = torch.from_numpy(fit.to_model(vertices)).float()
    points, normals = sample_surface(v, torch.from_numpy(np.asarray(faces, np.int64)), settings.samples, generator)
    config = model.config
    shape_queries = choose_queries(points, config.encoder.queries, generator)
    vae_queries = choose_queries(points, config.vae.cond_queries, generator)
    p, n = points[None].to(device), normals[None].to(device)
    vae = model.vae.model
    condition = vae.condition(p, n, vae_queries.to(device))
    prefix = model.prefix(p, n, shape_queries.to(device))
    start = start_tokens(settings.cls)
    grammar = GrammarMask(config.vocab, device, config.tokens_per_joint)
    new = beam_search(model.transformer, prefix, start, grammar, settings.decoding)
    tokens = [*start, *new]
    eos = tokens.index(EOS)
    skeleton = detokenize(tokens[:eos + 1])
    count = len(skeleton.joints) * config.tokens_per_joint
    codes = torch.tensor(tokens[eos + 1:eos + 1 + count], device=device) - SKELETON_VOCAB
    queries = vae.query_features(p, n)
    itemsize = next(model.parameters()).element_size()
    budget = skin_room(torch.device(device)) if settings.skin_bytes is None else settings.skin_bytes
    group = skin_batch(len(skeleton.joints), settings.decode_chunk, budget, itemsize)
    sample_weights = vae.decode(codes.view(-1, config.tokens_per_joint), condition, queries, settings.decode_chunk,
                                group)
    nearest = nearest_sample(fit.to_model(vertices), points.numpy())
    vertex_joints, vertex_weights = top_four(sample_weights.float().cpu().numpy()[nearest])
    return SkinTokensRig(joints=fit.to_mesh(skeleton.joints), tails=fit.to_mesh(skeleton.tails),
                         parents=skeleton.parents, vertex_joints=vertex_joints, vertex_weights=vertex_weights,
                         tokens=tokens)
