"""(1.24) A generate request's prompt: the text a picture is made from when the artist has none, checked
on arrival as the names are (``names.py``), each refusal one sentence.

A request rests on a picture (``image``) or on a prompt, never both: a prompt beside a picture would be
dropped without a word (the chain reads the picture), so it is refused instead.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from .errors import ErrorCode, ProtocolError

# FLUX.2 [klein] 4B's text encoder (Qwen3 in diffusers' Flux2KleinPipeline) reads at most
# ``max_sequence_length`` = 512 tokens of the chat-templated prompt and truncates the rest without a
# word. English runs about four characters a token, so 2,000 characters (with the chat template's and
# img23d's framing around it) is about what the encoder reads; a longer prompt would be cut silently,
# its end lost, so it is refused instead. Scripts without spaces (Chinese, Japanese) spend more tokens a
# character and may still be cut within the bound: the bound stops the text the encoder can never read.
MAX_PROMPT_CHARS = 2000
# Line breaks and tabs are the control characters a prompt may hold: a prompt pasted from a description,
# or a batch file's row, carries them, and the tokenizer reads them as spaces. Any other control
# character (NUL, escape sequences that repaint a terminal, backspace) is nothing an artist types.
PROMPT_WHITESPACE = frozenset("\n\r\t")
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
    """A request's prompt as it arrived, checked: text, at most ``MAX_PROMPT_CHARS`` characters, no control
    characters but line breaks and tabs, no half of a UTF-16 pair (what JSON's ``\\ud800`` escapes decode to:
    text that cannot be written as UTF-8), and something that shows (``has_content``: not only spaces, zero-width
    spaces or other invisible characters). "" is no prompt."""
    if not isinstance(value, str):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "prompt must be a string")
    if not value:
        return value
    if not value.strip():
        raise ProtocolError(ErrorCode.BAD_REQUEST, "the prompt holds only spaces: type what the picture should show")
    if len(value) > MAX_PROMPT_CHARS:
        raise ProtocolError(ErrorCode.BAD_REQUEST,
                            f"the prompt is {len(value):,} characters; at most {MAX_PROMPT_CHARS:,}, as the "
                            "text model reads no more")
    for ch in value:
        category = unicodedata.category(ch)
        if category == "Cc" and ch not in PROMPT_WHITESPACE:
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"the prompt contains a control character (U+{ord(ch):04X}); "
                                                       "only line breaks and tabs may be in it")
        if category == "Cs":
            raise ProtocolError(ErrorCode.BAD_REQUEST, f"the prompt is not valid text (a lone U+{ord(ch):04X}, "
                                                       "half of a UTF-16 pair): send it as UTF-8")
    if not has_content(value):   # zero-width spaces alone: a picture was made from nothing
        unseen = next(ch for ch in value if not ch.isspace())
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"the prompt holds only invisible characters (such as "
                                                   f"U+{ord(unseen):04X} {unicodedata.name(unseen, 'unnamed')}): "
                                                   "type what the picture should show")
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
