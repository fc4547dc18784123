"""Models: which ones (registry), where their files are (hub), how much memory there is
(memory), the one place that moves weights (placement), and what should be where (manager)."""
