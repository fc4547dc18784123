"""Completing what hides a target (``complete_hidden``): ``occlusion`` decides which targets look
hidden and why (``covering`` tells which of two overlapping detections stands in front); ``room``
grows a covered target's crop toward what covers it; ``fill`` asks the image editor for the whole
object, pastes back what was seen and mattes the result again. See docs/completion.md."""
