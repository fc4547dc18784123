"""Completing what hides a target (``complete_hidden``): ``occlusion`` decides which targets look
hidden and why; ``fill`` asks the image editor for the whole object, pastes back what was seen and
mattes the result again. See docs/completion.md."""
