"""Lenient JSON: every JSON-like container in a model's free-form text, even a cut-off one.

Model answers are messy: code fences, prose around the JSON, Python literals (``None``,
single quotes), trailing commas, and answers cut off by the token limit. ``json_values`` finds
each list or object in a text and reads it as far as it goes; a container the text ends
inside comes back as a ``PartialDict`` or ``PartialList``, so the caller can tell it apart.
Standard library only.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Iterator

FENCE = "```"
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


class _Truncated(Exception):
    """The text ended in the middle of a scalar (string, number or word)."""


class _Malformed(Exception):
    """The text at this position is not even lenient JSON."""


class PartialDict(dict):
    """An object cut off by the end of the text; holds only the members read in full."""


class PartialList(list):
    """An array cut off by the end of the text; holds only the items read so far."""


# Nesting beyond this is not a detection list; the cap also keeps recursion bounded on
# adversarial input such as "[[[[[[...".
_MAX_DEPTH = 32
# Each failed start rescans text up to where it failed, so a model stuck in a loop
# ("[a [a [a ...") could cost quadratic time.  Failed parses may rescan at most this
# many times the segment's length (plus slack); real answers stay far below it.
_RESCAN_FACTOR = 8
_RESCAN_SLACK = 10_000
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WORD_VALUES = {"null": None, "none": None, "true": True, "false": False}
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}


class _LenientParser:
    """A small JSON reader that also accepts what models and Python tend to write.

    Accepted beyond JSON: single-quoted strings, bare keys, missing or trailing or
    doubled commas, Python ``None``/``True``/``False``, and bare words as strings.
    When the text ends early, open containers come back as ``PartialDict`` /
    ``PartialList`` holding what was complete, so truncated answers can be salvaged.
    """

    def __init__(self, text: str, pos: int) -> None:
        self.text = text
        self.pos = pos

    def parse(self) -> tuple[Any, int]:
        value = self._value(0)
        return value, self.pos

    def _at_end(self) -> bool:
        return self.pos >= len(self.text)

    def _skip(self, chars: str) -> None:
        text = self.text
        while self.pos < len(text) and (text[self.pos].isspace() or text[self.pos] in chars):
            self.pos += 1

    def _value(self, depth: int) -> Any:
        self._skip("")
        if self._at_end():
            raise _Truncated
        char = self.text[self.pos]
        if char in "[{":
            if depth >= _MAX_DEPTH:
                raise _Malformed
            return self._array(depth + 1) if char == "[" else self._object(depth + 1)
        if char in "\"'":
            return self._string()
        if _NUMBER.match(self.text, self.pos):
            return self._number()
        word = self._word()
        return _WORD_VALUES.get(word.lower(), word)

    def _array(self, depth: int) -> list:
        items: list = []
        cut = self._members("]", lambda: items.append(self._value(depth)))
        return PartialList(items) if cut else items

    def _object(self, depth: int) -> dict:
        members: dict = {}

        def member() -> None:
            key = self._key()
            self._colon()
            # A partial container value is kept: a wrapper such as
            # {"objects": [...cut] still holds complete detections.
            members[key] = self._value(depth)

        cut = self._members("}", member)
        return PartialDict(members) if cut else members

    def _members(self, close: str, read: Callable[[], None]) -> bool:
        """Read the members of the container that opens here, each with ``read``, up to ``close``:
        False when it closed, True when the text ended inside it (what was read before is kept)."""
        self.pos += 1
        while True:
            self._skip(",")
            if self._at_end():
                return True
            if self.text[self.pos] == close:
                self.pos += 1
                return False
            try:
                read()
            except _Truncated:
                return True

    def _key(self) -> str:
        if self.text[self.pos] in "\"'":
            return self._string()
        return self._word()

    def _colon(self) -> None:
        self._skip("")
        if self._at_end():
            raise _Truncated
        if self.text[self.pos] != ":":
            raise _Malformed
        self.pos += 1

    def _string(self) -> str:
        quote = self.text[self.pos]
        self.pos += 1
        chars: list[str] = []
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if char == quote:
                self.pos += 1
                return "".join(chars)
            if char == "\\":
                chars.append(self._escape())
                continue
            chars.append(char)
            self.pos += 1
        raise _Truncated

    def _escape(self) -> str:
        # self.pos is on the backslash.
        text = self.text
        if self.pos + 1 >= len(text):
            raise _Truncated
        code = text[self.pos + 1]
        if code == "u":
            digits = text[self.pos + 2 : self.pos + 6]
            if len(digits) < 4:
                raise _Truncated
            try:
                char = chr(int(digits, 16))
            except ValueError:
                raise _Malformed from None
            self.pos += 6
            return char
        self.pos += 2
        return _ESCAPES.get(code, code)

    def _number(self) -> float:
        match = _NUMBER.match(self.text, self.pos)
        assert match is not None  # checked by the caller
        # A number touching the end may have lost digits ("56" of "560"); no need to
        # check here, because its enclosing container is then partial and dropped.
        self.pos = match.end()
        return float(match.group())

    def _word(self) -> str:
        match = _WORD.match(self.text, self.pos)
        if match is None:
            raise _Malformed
        self.pos = match.end()
        return match.group()


def json_values(segment: str) -> Iterator[Any]:
    """Every lenient-JSON container found in ``segment``, in order of appearance.

    Scanning starts only at '[' or '{', so prose around the JSON is skipped.  If a
    container does not parse, scanning resumes just after its opening bracket, which
    salvages well-formed objects inside a broken list.  Once failed parses have
    rescanned ``_RESCAN_FACTOR`` times the segment, the rest of it is given up.
    """
    pos = 0
    budget = _RESCAN_FACTOR * len(segment) + _RESCAN_SLACK
    while True:
        starts = [i for i in (segment.find("[", pos), segment.find("{", pos)) if i >= 0]
        if not starts:
            return
        start = min(starts)
        parser = _LenientParser(segment, start)
        try:
            value, end = parser.parse()
        except (_Malformed, _Truncated):
            budget -= parser.pos - start + 1
            if budget < 0:
                return
            pos = start + 1
            continue
        yield value
        pos = end


def fence_segments(raw: str) -> tuple[list[str], list[str]]:
    """Split ``raw`` into (inside code fences, outside code fences).

    An unclosed fence runs to the end of the text (a truncated answer).  Any language
    tag after the opening fence needs no special handling: scanning skips to the
    first bracket anyway.
    """
    parts = raw.split(FENCE)
    return parts[1::2], parts[0::2]


