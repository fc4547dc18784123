"""Matting: each crop cut out by the matting model (driver), its memory (memory) and the cut-out's edge colours (foreground); one folder per model."""
