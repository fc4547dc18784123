"""Which detection is which name: assigning the grounding model's labels to the names asked for.

Matching is strict on meaning and tolerant on spelling. A label belongs to a name only when
it carries every word of the name: "red barrel" matches the name "barrel" (a red barrel is a
barrel) but the label "barrel" does not match the name "red barrel" (not every barrel is red).
A name is one name whatever punctuation it holds: "house; barrel" needs both words, it is not
a list. Case, separators ("wooden_barrel", "wooden-barrel") and simple plurals are forgiven.
A name no label means comes back with no detections, so the caller reports it as not found
instead of making the wrong object.

No torch or numpy, so it can be imported and tested without them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .grounder import Detection

__all__ = ["TargetMatch", "match_targets", "one_name_twice", "same_name"]

# Match quality, best first.
_EXACT, _PLURAL, _LABEL_HAS_TARGET = range(3)


@dataclass
class TargetMatch:
    """The detections assigned to one requested name, largest first."""

    target: str
    detections: list[Detection] = field(default_factory=list)


def _words(name: str) -> tuple[str, ...]:
    """Case-folded words; anything that is not a letter or digit separates words."""
    folded = "".join(char if char.isalnum() else " " for char in name.casefold())
    return tuple(folded.split())


def _word_forms(word: str) -> frozenset[str]:
    """The word plus its possible singulars under simple English rules.

    Over-generating is harmless ("houses" also yields "hous"): two words match when
    their form sets intersect, and the spurious forms are not words.
    """
    forms = {word}
    if len(word) > 3 and word.endswith("ies"):
        forms.add(word[:-3] + "y")  # berries -> berry
    if len(word) > 3 and word.endswith("es"):
        forms.add(word[:-2])  # boxes -> box, glasses -> glass
    if len(word) > 2 and word.endswith("s") and not word.endswith("ss"):
        forms.add(word[:-1])  # barrels -> barrel, houses -> house
    return frozenset(forms)


def _same_word(a: str, b: str) -> bool:
    return a == b or bool(_word_forms(a) & _word_forms(b))


def same_name(a: str, b: str) -> bool:
    """True when two labels name the same thing: the same words, forgiving case, separators
    and simple plurals ("Barrels" and "barrel", "red_barrel" and "red barrel")."""
    words_a, words_b = _words(a), _words(b)
    return bool(words_a) and len(words_a) == len(words_b) and all(map(_same_word, words_a, words_b))


def one_name_twice(names: list[str]) -> tuple[str, str] | None:
    """The first two of ``names`` with the same words ("house!" and "house", "Wooden-Barrel" and "wooden barrel"),
    or None: matching gives every detection to the first, and the second was said not found. Plurals it tells
    apart (an exact match ranks first: "glass" and "glasses" are two names)."""
    for index, name in enumerate(names):
        other = next((earlier for earlier in names[:index] if _words(earlier) == _words(name)), None)
        if other is not None:
            return other, name
    return None


def _has_every_word(label: tuple[str, ...], target: tuple[str, ...]) -> bool:
    return all(any(_same_word(word, other) for other in label) for word in target)


def _match_rank(label: tuple[str, ...], target: tuple[str, ...]) -> int | None:
    """How well ``label`` names ``target``, or None when it does not name it at all."""
    if not label or not target:
        return None
    if label == target:
        return _EXACT
    if len(label) == len(target) and all(map(_same_word, label, target)):
        return _PLURAL
    if _has_every_word(label, target):
        return _LABEL_HAS_TARGET  # label "red barrel", target "barrel"
    # A label missing one of the target's words ("barrel" for "red barrel", "house" for
    # "house; barrel") names something else, however much it overlaps.
    return None


def _best_target(label: str | None, targets: list[tuple[str, ...]]) -> int | None:
    """Index of the target a detection belongs to, or None."""
    label_words = _words(label) if label is not None else ()
    if not label_words:
        # Unlabelled answers are unambiguous only when a single name was asked for.
        return 0 if len(targets) == 1 else None
    best: tuple[int, int, int] | None = None
    for index, target_words in enumerate(targets):
        rank = _match_rank(label_words, target_words)
        if rank is None:
            continue
        # Best rank, then the longer (more specific) name, then the earlier target.
        key = (rank, -len(" ".join(target_words)), index)
        if best is None or key < best:
            best = key
    return best[2] if best is not None else None


def match_targets(detections: list[Detection], targets: list[str], keep: str = "largest") -> list[TargetMatch]:
    """Assign detections to the requested names; one ``TargetMatch`` per name, in order.

    ``keep="largest"`` keeps the largest detection per name, ``keep="all"`` keeps all of
    them, largest first (equal areas keep the model's order).  Each detection goes to
    at most one name.  An empty ``detections`` list means the name was not found.
    """
    if keep not in ("largest", "all"):
        raise ValueError(f'keep must be "largest" or "all", got {keep!r}')
    if isinstance(targets, str):
        raise TypeError("targets must be a list of names, not a single string")
    target_words = [_words(target) for target in targets]
    groups: list[list[Detection]] = [[] for _ in targets]
    for detection in detections:
        index = _best_target(detection.label, target_words)
        if index is not None:
            groups[index].append(detection)
    matches = []
    for target, group in zip(targets, groups):
        ordered = sorted(group, key=Detection.area, reverse=True)
        kept = ordered if keep == "all" else ordered[:1]
        matches.append(TargetMatch(target=target.strip(), detections=kept))
    return matches
