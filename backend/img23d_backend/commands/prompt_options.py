"""``generate``'s picture or ``--prompt`` (issue 76): the picture argument, the prompt and the made picture's side,
and their checks once every argument is read, before anything is loaded: one of a picture or a prompt, the prompt
checked as the protocol checks it (``validate_prompt``), and ``--picture-size`` only with a prompt (it is then the job's
``--edit-size``: the area the image editor paints at). ``--targets auto`` with a prompt reads its names from the
picture once it is made (``cli._generate``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from img23d_protocol import ErrorCode, ProtocolError, check_picture_or_prompt, validate_prompt

from ..editors.text_prompt import PICTURE_MULTIPLE, PICTURE_SIDES, check_side, makers


def add_prompt_arguments(gen: argparse.ArgumentParser) -> None:
    """generate's picture (optional) and the prompt that makes one when it is left out."""
    gen.add_argument("image", type=Path, nargs="?", default=None,
                     help="the picture; leave it out and give --prompt to have the picture made from text")
    gen.add_argument("--prompt", default=None,
                     help="what the picture should show, when there is no picture: the image editor makes it "
                          f"({' or '.join(makers())}), on a plain light background, whole in the frame, in soft "
                          "light; then the chain reads it as any picture; without --targets its first words name "
                          "the one object")
    gen.add_argument("--picture-size", type=int, default=0, metavar="SIDE",
                     help="the side of the square picture made from --prompt, a multiple of "
                          f"{PICTURE_MULTIPLE} from {PICTURE_SIDES.low:,.0f} to {PICTURE_SIDES.high:,.0f} (default: "
                          "the model's own, 1024); the picture's hidden parts are completed at the same area "
                          "(--edit-size)")


def check_prompt_arguments(args: argparse.Namespace) -> None:
    """generate's picture or prompt, one of them, the prompt checked as the protocol checks it; --picture-size
    only with a prompt, and then it is the job's --edit-size (the area the image editor paints at). Each refusal
    is one sentence."""
    if args.prompt is not None and not args.prompt:
        raise ProtocolError(ErrorCode.BAD_REQUEST, "--prompt is empty: type what the picture should show")
    prompt = validate_prompt(args.prompt or "")
    check_picture_or_prompt(str(args.image or ""), prompt)
    if args.picture_size:
        if not prompt:
            raise ProtocolError(ErrorCode.BAD_REQUEST, "--picture-size is the size of a picture made from --prompt; "
                                                       "a picture given is read at its own size")
        if args.edit_size and args.edit_size != args.picture_size:
            raise ProtocolError(ErrorCode.BAD_REQUEST, "--picture-size and --edit-size both set the area the image "
                                                       "editor paints at for a prompt: give one")
        args.edit_size = check_side(args.picture_size)
    elif prompt and args.edit_size:
        # --edit-size is the made picture's side then: checked here, naming the flag, before anything loads (it
        # was refused after the engine started, and without naming it).
        try:
            check_side(args.edit_size)
        except ProtocolError as exc:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"--edit-size {args.edit_size} with --prompt: "
                                                       f"{exc.message}") from exc
