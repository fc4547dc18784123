"""Marigold-IID-Appearance v1.1: model (its row), pipeline (its loader and estimate), material (its code), replica."""
