"""Qwen3-VL: its random-weight replica (replica) and the answer it is wired to give (replica_answer)."""
