"""The part names a split is asked for, checked before anything is loaded (standard library and the
protocol only: the command checks them before the models load).

``MAX_PARTS`` is 16. Every name costs a crop per render in the matting (16 names over the 10 renders
are 160 crops, BiRefNet's batch the job's largest step), and a mesh cut into more parts than that
leaves each, on average, under a sixteenth of the object's pixels: on a 512-pixel render about 80 x 80
pixels, the least a crop that BiRefNet reads at 1,024 still resolves. Past that, the models'
answers, not the lifting, decide the cut: ask for the large parts, then split a part again.
"""

from __future__ import annotations

from img23d_protocol import ErrorCode, ProtocolError, split_names, validate_targets

MAX_PARTS = 16


def part_names(text: str, limit: int = MAX_PARTS, why: str = "split a part again for finer parts") -> list[str]:
    """The names in ``text`` (commas between them), checked: at least one, at most ``limit`` (a split's
    ``MAX_PARTS``; ``why``, the reason said past it), none twice; each as any target name
    (``validate_targets``). A wrong list is one sentence."""
    names = split_names(text)
    if not names:
        raise ProtocolError(ErrorCode.BAD_REQUEST, 'give the parts\' names, e.g. --names "shade, arm, base": '
                                                   "one part is made per name")
    if len(names) > limit:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{len(names)} part names given; at most {limit} ({why})")
    seen: set[str] = set()
    for name in names:
        folded = name.strip().casefold()
        if folded in seen:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"the part {name.strip()!r} is named twice: "
                                                       "name each part once")
        seen.add(folded)
    return validate_targets(names)
