"""The token grammar decoding must follow: a skeleton, then exactly four skin codes per joint, then the end.

Read from upstream ``TokenizerPart.next_posible_token`` / ``bones_in_sequence`` and ``TokenRig``'s
``VocabSwitchingLogitsProcessor`` (``src/tokenizer/tokenizer_part.py``, ``src/model/tokenrig.py``). The
skeleton: after ``bos`` a class (or a part, or the root's coordinates); each joint is three coordinate bins;
after a joint comes another joint, a part token, ``branch`` (then the parent's three bins and the joint's
three) or the skeleton's ``eos``. img23d allows one part token before a joint (upstream allows a run). Then only skin codes until there are ``4 x joints`` of them, then only
the language model's end.

img23d's mask is stricter than upstream's in three places, each so that every finished sequence parses:
upstream lets ``eos`` close a skeleton of no joints, lets a ``branch`` close after the parent's three bins
alone, and forces the end one skin code early (its check ``len - eos_pos == 4J`` counts the ``eos`` itself,
so the last code of the last joint is the end id; training sequences, ``prepare_llm_tokens``, have all
4J codes then the end, as here). A token budget closes the skeleton while the skin codes still fit.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import torch

from .config import BOS, BRANCH, CLASS_IDS_ALL, EOS, NUM_DISCRETE, PART_IDS_ALL, SKELETON_VOCAB


class State(Enum):
    """Where a sequence is; each state allows one fixed set of next tokens."""

    BOS = "bos"
    CLASS_PART_OR_ROOT = "class_part_or_root"  # after bos
    PART_OR_ROOT = "part_or_root"  # after the class: parts, or the root's first bin
    COORD_2 = "coord_2"
    COORD_3 = "coord_3"
    JOINT_START = "joint_start"  # a joint's first bin (after a part)
    PART_JOINT_START = "part_joint_start"  # after a part inside the skeleton: a joint or a branch
    BRANCH_COORD = "branch_coord"  # one of the six bins after a branch
    AFTER_JOINT = "after_joint"  # a joint, a part, a branch or the skeleton's end
    SKIN = "skin"
    END = "end"
    DONE = "done"


PART_IDS = PART_IDS_ALL
CLASS_IDS = CLASS_IDS_ALL
JOINT_COST = 3 + 4  # a joint's bins and its skin codes
BRANCH_COST = 1 + 6 + 4


@dataclass
class GrammarState:
    """One sequence's place in the grammar; ``step`` moves it by one token (``ValueError`` if not allowed)."""

    state: State = State.BOS
    joints: int = 0
    skin: int = 0
    branch_bins: int = 0

    def copy(self) -> "GrammarState":
        return GrammarState(self.state, self.joints, self.skin, self.branch_bins)

    def step(self, token: int, end: int, tokens_per_joint: int = 4) -> None:
        s = self.state
        coord = 0 <= token < NUM_DISCRETE
        if s is State.BOS and token == BOS:
            self.state = State.CLASS_PART_OR_ROOT
        elif s is State.CLASS_PART_OR_ROOT and token in CLASS_IDS:
            self.state = State.PART_OR_ROOT
        elif s in (State.CLASS_PART_OR_ROOT, State.PART_OR_ROOT) and token in PART_IDS:
            self.state = State.JOINT_START  # one part a joint: a run of parts could spend the budget
        elif s in (State.CLASS_PART_OR_ROOT, State.PART_OR_ROOT, State.JOINT_START, State.PART_JOINT_START,
                   State.AFTER_JOINT) and coord:
            self.state = State.COORD_2
        elif s is State.COORD_2 and coord:
            self.state = State.COORD_3
        elif s is State.COORD_3 and coord:
            self.joints += 1
            self.state = State.AFTER_JOINT
        elif s in (State.AFTER_JOINT, State.PART_JOINT_START) and token == BRANCH and self.joints:
            self.state, self.branch_bins = State.BRANCH_COORD, 0
        elif s is State.BRANCH_COORD and coord:
            self.branch_bins += 1
            if self.branch_bins == 6:
                self.joints += 1
                self.state = State.AFTER_JOINT
        elif s is State.AFTER_JOINT and token in PART_IDS:
            self.state = State.PART_JOINT_START
        elif s is State.AFTER_JOINT and token == EOS:
            self.state = State.SKIN
        elif s is State.SKIN and SKELETON_VOCAB <= token < end:
            self.skin += 1
            if self.skin == self.joints * tokens_per_joint:
                self.state = State.END
        elif s is State.END and token == end:
            self.state = State.DONE
        else:
            raise ValueError(f"token {token} is not allowed in state {s.value}")


class GrammarMask:
    """Additive logit masks (0 allowed, -inf not) for each state, built once for one vocabulary."""

    def __init__(self, vocab: int, device: torch.device | str = "cpu", tokens_per_joint: int = 4) -> None:
        self.vocab = vocab
        self.end = vocab - 1
        self.tokens_per_joint = tokens_per_joint
        coords = list(range(NUM_DISCRETE))
        allowed = {
            State.BOS: [BOS],
            State.CLASS_PART_OR_ROOT: [*CLASS_IDS, *PART_IDS, *coords],
            State.PART_OR_ROOT: [*PART_IDS, *coords],
            State.COORD_2: coords,
            State.COORD_3: coords,
            State.JOINT_START: coords,
            State.PART_JOINT_START: [*coords, BRANCH],
            State.BRANCH_COORD: coords,
            State.AFTER_JOINT: [*coords, *PART_IDS, BRANCH, EOS],
            State.SKIN: list(range(SKELETON_VOCAB, self.end)),
            State.END: [self.end],
            State.DONE: [self.end],  # a finished beam only repeats the end (never read)
        }
        self._masks = {state: self._mask(ids, device) for state, ids in allowed.items()}
        self._close = self._mask([EOS], device)  # the budget says: end the skeleton now

    def _mask(self, ids: list[int], device: torch.device | str) -> torch.Tensor:
        mask = torch.full((self.vocab,), float("-inf"), device=device)
        mask[torch.tensor(ids, dtype=torch.long, device=device)] = 0.0
        return mask

    def mask(self, state: GrammarState, remaining: int) -> torch.Tensor:
        """The mask for the next token, with ``remaining`` tokens left in the budget (this one included)."""
        if state.state is State.AFTER_JOINT:
            closing = 1 + state.joints * self.tokens_per_joint + 1  # eos, the codes, the end
            if remaining < closing + 1 + BRANCH_COST:  # room for a part, a branched joint and its codes
                return self._close
        return self._masks[state.state]

    def minimum_budget(self) -> int:
        """Tokens any sequence after ``bos`` fits in: a class, a part, the root's bins and codes, eos, the end."""
        return 1 + 1 + JOINT_COST + 2


def parse_grammar(tokens: list[int], end: int, tokens_per_joint: int = 4) -> GrammarState:
    """Walk ``tokens`` (from ``bos``) through the grammar; ``ValueError`` at the first token not allowed."""
    state = GrammarState()
    for token in tokens:
        state.step(int(token), end, tokens_per_joint)
    return state
