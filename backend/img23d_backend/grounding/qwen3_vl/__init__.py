"""Qwen3-VL, the grounding model img23d ships (2B, 4B and 8B): its rows (model), its code as the room calls it
(grounder), how it is asked and answers in words (ask), its questions and the reading of its boxes on a 0..1000
grid (detections, lenient_json, answer_scan), its random-weight replica (replica) and the answer that replica is
wired to give (replica_answer)."""
