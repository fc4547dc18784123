"""(1.24) A generate request's prompt: the text a picture is made from when the artist has none, checked
on arrival as the names are (``names.py``), each refusal one sentence.

A request rests on a picture (``image``) or on a prompt, never both: a prompt beside a picture would be
dropped without a word (the chain reads the picture), so it is refused instead.

A prompt's short name (``name_from_prompt``) is shared by both sides: the backend names a picture's run folder and
a prompt's one object by it, the add-on a picture's collection and the run it makes from a picked picture.

(1.27) A picked picture that img23d made from a prompt (Make Picture's, a Generate's) is sent with that prompt and
its seed (``image_prompt``, ``image_seed``), which the run's manifest keeps; they are checked as a prompt and a
seed are (``validate_image_prompt``, ``validate_image_seed``), and only beside a picture (``check_made_from``).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from .errors import ErrorCode, ProtocolError
from .limits import MAX_PROMPT_CHARS
from .options import OPTION_RANGES

# FLUX.2 [klein] 4B's text encoder (Qwen3 in diffusers' Flux2KleinPipeline) reads at most
# ``max_sequence_length`` = 512 tokens of the chat-templated prompt and truncates the rest without a
# word. English runs about four characters a token, so 2,000 characters (``MAX_PROMPT_CHARS``, with the chat template's and
# img23d's framing around it) is about what the encoder reads; a longer prompt would be cut silently,
# its end lost, so it is refused instead. Scripts without spaces (Chinese, Japanese) spend more tokens a
# character and may still be cut within the bound: the bound stops the text the encoder can never read.
# Line breaks and tabs are the control characters a prompt may hold: a prompt pasted from a description,
# or a batch file's row, carries them, and the tokenizer reads them as spaces. Any other control
# character (NUL, escape sequences that repaint a terminal, backspace) is nothing an artist types.
PROMPT_WHITESPACE = frozenset("\n\r\t")
# What the object is named when no names are given: its first few words (``name_from_prompt``).
NAME_WORDS = 3
_LEADING = {"a", "an", "the", "some", "one"}
_WORD = re.compile(r"[^\W_]+(?:['-][^\W_]+)*")


# Characters that show nothing though they are neither spaces nor format characters (Unicode's default-ignorable
# letters and marks, and the blank Braille pattern): a prompt of these alone reads as empty to the artist, yet the
# text model was given it and a picture was made from nothing in particular.
BLANK_CHARACTERS = frozenset("\u034f\u115f\u1160\u17b4\u17b5\u2800\u3164\uffa0") | frozenset(
    map(chr, [*range(0x180B, 0x1810), *range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0)]))


def shows_something(ch: str) -> bool:
    """Whether ``ch`` shows on the page: not a space or line break, a control or format character (U+200B, U+2060,
    U+FEFF, the joiners, bidirectional marks, tag characters) or another blank (``BLANK_CHARACTERS``)."""
    return not (ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf", "Zs", "Zl", "Zp") or ch in BLANK_CHARACTERS)


def has_content(text: str) -> bool:
    """Whether a prompt holds anything to read: a character that shows (``shows_something``). The one rule the
    command line, the Python API, the wire and the add-on apply to a prompt."""
    return any(shows_something(ch) for ch in text)


def validate_prompt(value: Any) -> str:
    """A request's prompt as it arrived, checked: text, not only spaces, at most ``MAX_PROMPT_CHARS``
    characters, no control characters but line breaks and tabs, no half of a UTF-16 pair (what JSON's
    ``\\ud800`` escapes decode to: text that cannot be written as UTF-8), and something that shows (``has_content``:
    not only zero-width spaces or other invisible characters). "" is no prompt."""
    return _checked_text(value, "prompt", "the prompt", "type what the picture should show",
                         "as the text model reads no more")


def validate_image_prompt(value: Any) -> str:
    """(1.27) A generate request's ``image_prompt``, the prompt its picture was made from, checked as a prompt is
    (``validate_prompt``): it goes into the run's manifest, written as UTF-8. "" (or none, from an older add-on) is
    a picture made from no prompt, or one img23d did not make."""
    return _checked_text("" if value is None else value, "image_prompt", "the picture's prompt (image_prompt)",
                         "send none for a picture made from no prompt", "as a prompt may be")


def validate_image_seed(value: Any) -> int | None:
    """(1.27) A generate request's ``image_seed``, the seed its picture was made from: a whole number in the range a
    seed is given in (``OPTION_RANGES["seed"]``); None (absent, from an older add-on) is none."""
    allowed = OPTION_RANGES["seed"]
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not allowed.low <= value <= allowed.high:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"image_seed (the picture's seed) must be a whole number from "
                                                   f"{allowed.low:,} to {int(allowed.high):,}, or none")
    return value


def check_made_from(image: str, image_prompt: str, image_seed: int | None) -> None:
    """Refuse, in one sentence, a picture's prompt or seed (``image_prompt``, ``image_seed``) in a request without a
    picture: they say what a picked picture was made from, and a request from a prompt has none to say it of."""
    if not image and (image_prompt or image_seed is not None):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "image_prompt and image_seed say what a picked picture was made "
                                                   "from: send them with the picture, or send neither")


def _checked_text(value: Any, key: str, what: str, blank: str, why_short: str) -> str:
    if not isinstance(value, str):
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{key} must be a string")
    if not value:
        return value
    if not value.strip():
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{what} holds only spaces: {blank}")
    if len(value) > MAX_PROMPT_CHARS:
        raise ProtocolError(ErrorCode.BAD_REQUEST,
                            f"{what} is {len(value):,} characters; at most {MAX_PROMPT_CHARS:,}, {why_short}")
    for ch in value:
        category = unicodedata.category(ch)
        if category == "Cc" and ch not in PROMPT_WHITESPACE:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"{what} contains a control character (U+{ord(ch):04X}); "
                                                       "only line breaks and tabs may be in it")
        if category == "Cs":
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"{what} is not valid text (a lone U+{ord(ch):04X}, "
                                                       "half of a UTF-16 pair): send it as UTF-8")
    if not has_content(value):   # zero-width spaces alone: a picture was made from nothing
        unseen = next(ch for ch in value if not ch.isspace())
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"{what} holds only invisible characters (such as "
                                                   f"U+{ord(unseen):04X} {unicodedata.name(unseen, 'unnamed')}): "
                                                   f"{blank}")
    return value


def check_picture_or_prompt(image: str, prompt: str, *, required: bool = True) -> None:
    """Refuse, in one sentence, a request that gives both a picture and a prompt, and (``required``) one
    that gives neither. Decoding a line passes ``required=False``: a request with neither is the job's to
    refuse, before its run folder, as every job refuses what it lacks."""
    if image and prompt:
        raise ProtocolError(ErrorCode.BAD_REQUEST, "both a picture and a prompt were given: a job starts from "
                                                   "one, so send the picture or the prompt")
    if required and not image and not prompt:
        raise ProtocolError(ErrorCode.BAD_REQUEST, "no picture and no prompt given: pick a picture, or type what "
                                                   "the picture should show")


def name_from_prompt(text: str) -> str:
    """The one object's name when a picture made from ``text`` is given no names: its first words up to the
    first punctuation, at most ``NAME_WORDS`` of them, a leading article dropped ("a wooden barrel, old" ->
    "wooden barrel"); "object" when no word is left. The first words, not a guess at the noun: what is said
    first is what a short prompt is about, and a longer one is better given names (``--targets``). Only
    letters, digits, spaces, apostrophes and hyphens: a file name on every system."""
    clause = re.split(r"[,.;:!?()\[\]{}\"]", text.strip(), maxsplit=1)[0]
    words = _WORD.findall(clause)
    if len(words) > 1 and words[0].casefold() in _LEADING:
        words = words[1:]
    return " ".join(words[:NAME_WORDS]) or "object"
