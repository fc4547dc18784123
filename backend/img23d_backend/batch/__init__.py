"""Many pictures, many workers: the ``batch`` command's driver, workers and record.

``inputs`` turns the command line's pictures, folders and JSONL/CSV lists into items;
``record`` keeps ``<out>/batch.json`` (what became of each picture, rewritten atomically) and
finds what an earlier run already made; ``driver`` hands pictures to free workers, a bounded
number at a time, and retries a picture whose worker died; ``work`` is the worker itself (one
engine, models resident between pictures, the same generate job the commands run), which
``local`` runs in one process per GPU on this machine and ``ray_pool`` as one Ray actor per GPU
on a cluster, its run files coming back as bytes (``run_import`` writes them into ``--out``).
"""
