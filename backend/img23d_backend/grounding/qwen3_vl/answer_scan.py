"""Where a grounding answer ends, read as it is generated, a few characters at a time.

The model answers with top-level JSON values: an array of box objects, a bare object (the
form Qwen3-VL's own fine-tuning data shows for one box), a sequence of bare objects, or its
boxes split over several arrays (one code fence each, or one after another), in a code fence or
not, with prose around it. ``AnswerScanner.feed`` takes only the text that is new since the last
call and keeps its state (nesting, strings, escapes), so the cost per token is constant however
long the answer grows. It says stop when:

* a top-level value (array or object) closed and what follows it is prose (``closed``): commas,
  white space, a closing fence and the opening of the next fence (backticks and a language tag
  such as ``json``) go on reading, since another array or object may follow; one that opens is
  read like the first. An answer whose model ends its turn after its last value is ``complete``;
* the model repeats itself: ``REPEATS_TO_STOP`` boxes in a row each repeat an earlier box of
  the same label (IoU above ``DUPLICATE_IOU``), as greedy decoding of a long list can loop
  (A B C A B C ... or A A A ...) until its budget (``repetition``). One stray duplicate does not
  stop it; the parser drops it.

Brackets and braces inside strings do not count; quotes outside any container (prose such as
"it's") do not open strings. No torch, no numpy.
"""

from __future__ import annotations

from ..grounder import StopReason
from .detections import DUPLICATE_IOU, box_and_label, iou, same_label_key
from .lenient_json import json_values

__all__ = ["AnswerScanner", "REPEATS_TO_STOP"]

# Three repeats in a row: a loop of one, two or three boxes shows itself within a cycle or
# three, while an answer that lists one object twice by mistake goes on.
REPEATS_TO_STOP = 3


class AnswerScanner:
    """Fed the answer's text piece by piece; ``stop`` is set once the answer has ended."""

    def __init__(self, repeats_to_stop: int = REPEATS_TO_STOP) -> None:
        self.repeats_to_stop = repeats_to_stop
        self.stop: StopReason | None = None
        self.consumed = 0             # characters read, up to and including the one that stopped it
        self.elements = 0             # box-level objects read in full
        self.repeats = 0              # of them, those that repeated an earlier box of their label
        self._in_a_row = 0
        self._stack: list[str] = []   # the open containers, "[" or "{"
        self._in_string = False
        self._escaped = False
        self._after_value = False     # a top-level value closed: another may follow, prose ends it
        self._fence_tag = False       # just after backticks: a fence's language tag may follow
        self._element: list[str] | None = None  # the text of the box-level object being read
        self._element_depth = 0
        self._boxes: dict[str | None, list[tuple[float, float, float, float]]] = {}

    def feed(self, text: str) -> StopReason | None:
        """Read ``text`` (the answer's next characters); return ``stop``."""
        for char in text:
            if self.stop is not None:
                break
            self.consumed += 1
            self._read(char)
        return self.stop

    def _read(self, char: str) -> None:
        if self._element is not None:
            self._element.append(char)
        if self._in_string:
            if self._escaped:
                self._escaped = False
            elif char == "\\":
                self._escaped = True
            elif char == '"':
                self._in_string = False
        elif not self._stack:
            self._between_values(char)
        elif char == '"':
            self._in_string = True
        elif char in "[{":
            self._open(char)
        elif char in "]}":
            self._close(char)

    @property
    def complete(self) -> bool:
        """Whether a top-level value has closed and nothing has opened since (an answer that ends here
        is whole)."""
        return self._after_value and not self._stack

    def _between_values(self, char: str) -> None:
        """Outside every container: prose before the answer, or what follows a top-level value."""
        if self._after_value:
            tag = self._fence_tag and char.isalnum()
            self._fence_tag = char == "`" or tag
            if char.isspace() or char in ",`" or tag:
                return
            if char not in "[{":
                self.stop = StopReason.CLOSED
                return
            self._after_value = False
        if char in "[{":
            self._open(char)

    def _open(self, char: str) -> None:
        # A box-level object: a top-level one, or one directly inside the top-level array.
        if char == "{" and self._element is None and self._stack in ([], ["["]):
            self._element, self._element_depth = [char], len(self._stack)
        self._stack.append(char)

    def _close(self, char: str) -> None:
        self._stack.pop()  # leniently, whatever kind of container it closes
        if self._element is not None and len(self._stack) == self._element_depth:
            text, self._element = "".join(self._element), None
            self._check_repeat(text)
            if self.stop is not None:
                return
        if not self._stack:
            self._after_value, self._fence_tag = True, False

    def _check_repeat(self, text: str) -> None:
        value = next(json_values(text), None)
        box, label = box_and_label(value) if isinstance(value, dict) else (None, None)
        self.elements += 1
        if box is None:
            self._in_a_row = 0
            return
        earlier = self._boxes.setdefault(same_label_key(label), [])
        if any(iou(box, other) > DUPLICATE_IOU for other in earlier):
            self.repeats += 1
            self._in_a_row += 1
            if self._in_a_row >= self.repeats_to_stop:
                self.stop = StopReason.REPETITION
        else:
            self._in_a_row = 0
            earlier.append(box)
