"""The grounding answer a chain job waits for: as long as Qwen3-VL's answer for the job's names.

The grounding replica of the model sets answers its fixed answer whatever it is asked (eleven boxes, about 230
tokens at the full size, ``grounding.qwen3_vl.replica_answer``), where Qwen3-VL answers the names asked, one line a box,
each line about 35 tokens (its BPE gives every digit a token of its own: ``grounding.qwen3_vl.ask``'s
``BOX_LINE_TOKENS`` comment, and the grounding tests' samples, ``tests/backend/grounding_answers.py``). One
untextured object's grounding took 5 to 7.6 s of its 10.7 s on an H200 for that difference alone.

So the chain builds, once per workload and beside the replicas (no rebuild of the shared ones), a grounding
replica of the set's size wired to give Qwen3-VL's answer for the workload's names: the fixed answer's boxes of
those names in Qwen3-VL's own form (a fenced JSON list, one object a line, nothing after the fence: the corpus's
``qwen3_canonical_scaled``), cut into as many tokens as Qwen's tokenizer gives it (``REAL_BOX_TOKENS`` a box,
``REAL_FRAME_TOKENS`` for the fence and brackets), as near as the replica's wiring allows (``answer_dims``). The worker registers it for the workload's jobs
(``use_answer``). Run as a script, it builds the chain's workloads' replicas ahead (``bench/gpu_benchmarks.sh`` does,
beside the full-size build, so that the chain's lease is spent on its jobs):

    .venv/bin/python bench/chain_answers.py [--models tiny|full-size-random] [--models-dir DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from chain_workloads import WORKLOADS, model_set

REAL_BOX_TOKENS = 35    # Qwen's BPE on one box line: 33 to 38 tokens (grounding/qwen3_vl/ask.py), the 35
REAL_FRAME_TOKENS = 8   # "```", "json", "\n", "[", "\n", "]", "\n", "```"
_LINE = re.compile(r'\{"bbox_2d": \[(\d+), (\d+), (\d+), (\d+)\], "label": "([^"]+)"\}')
VERSION = 1             # of what a built answer replica holds: a change here builds them again


def real_answer(names: list[str]) -> str:
    """Qwen3-VL's answer for ``names``: every box of each name the fixed answer has, in the model's form."""
    from img23d_backend.grounding.qwen3_vl.replica_answer import ANSWER

    boxes = [(match.group(5), [int(match.group(i)) for i in range(1, 5)]) for match in _LINE.finditer(ANSWER)]
    lines = [f'  {{"bbox_2d": {json.dumps(box)}, "label": "{label}"}}'
             for label, box in boxes if label in names]
    if not lines:
        raise ValueError(f"the fixed answer has no box of {names}")
    return "```json\n[\n" + ",\n".join(lines) + "\n]\n```"


def real_tokens(text: str) -> int:
    """The tokens Qwen3-VL's tokenizer gives ``text`` (an answer of ``real_answer``'s form)."""
    return REAL_FRAME_TOKENS + REAL_BOX_TOKENS * text.count('"bbox_2d"')


def answer_dims(size: str, text: str) -> Any:
    """The replica's sizes at ``size`` ("tiny" or "full"), its answer cut into ``real_tokens(text)`` pieces. The
    tiny size is widened as the grounding tests widen it: one embedding dimension per answer token."""
    from img23d_backend.grounding.qwen3_vl import replica as grounding_replica
    from img23d_backend.grounding.qwen3_vl.replica_answer import FixedAnswer, answer_pieces

    # Every piece is a token used once (each token has one successor), so pieces of a repeated text grow until
    # unlike the others: the longest answers fall short of Qwen's count at any cut (130 of 183 tokens for
    # three names, at one character a piece). The cut nearest Qwen's count is taken; the JSON says both.
    chars = min(range(1, 5), key=lambda c: abs(len(answer_pieces(c, FixedAnswer(text))) - real_tokens(text)))
    if size == "tiny":
        return replace(grounding_replica.TINY, answer_chars=chars, hidden=512, intermediate=512)
    return replace(grounding_replica.FULL, answer_chars=chars)


def answer_replica(root: Path, size: str, names: list[str]) -> tuple[Path, int]:
    """The folder of a grounding replica at ``size`` that answers ``names`` as Qwen3-VL does (built under
    ``root``, the replicas' folder, on first use, then reused; a rebuild of the replicas drops it), and its
    answer's tokens."""
    from img23d_backend.grounding.qwen3_vl import replica as grounding_replica
    from img23d_backend.grounding.qwen3_vl.replica_answer import FixedAnswer, answer_pieces

    text = real_answer(names)
    dims = answer_dims(size, text)
    key = hashlib.sha256(f"{VERSION} {size} {dims} {text}".encode()).hexdigest()[:12]
    folder = root / f"chain-grounding-{size}-{key}"
    done = folder / "answer.json"
    tokens = len(answer_pieces(dims.answer_chars, FixedAnswer(text)))
    if not done.is_file():
        grounding_replica.build(folder, dims, FixedAnswer(text))
        done.write_text(json.dumps({"names": names, "answer": text, "tokens": tokens}) + "\n")
    return folder, tokens


def use_answer(engine: Any, folder: Path) -> None:
    """Register the grounding replica in ``folder`` as ``engine``'s grounding model (the one before is dropped)."""
    from img23d_backend.jobs.loaders import LOADERS

    spec = replace(engine.manager.spec("grounding"), local_path=folder)
    engine.manager.register(spec, LOADERS["grounding"](spec))


def main() -> int:

    parser = argparse.ArgumentParser(description="build the chain's grounding replicas that answer as Qwen3-VL")
    parser.add_argument("--models", choices=("tiny", "full-size-random"), default="tiny")
    parser.add_argument("--models-dir", type=Path)
    args = parser.parse_args()
    root = Path(model_set(args.models, args.models_dir).matting.local_path).parent
    for names, _ in WORKLOADS.values():
        folder, tokens = answer_replica(root, "tiny" if args.models == "tiny" else "full", names)
        print(f"{', '.join(names)}: {tokens} tokens (Qwen's {real_tokens(real_answer(names))}) in {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
