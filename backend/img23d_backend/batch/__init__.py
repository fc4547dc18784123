"""Many pictures, many workers: the ``batch`` command's driver, workers and record.

``inputs`` turns the command line's pictures, folders and JSONL/CSV lists into items;
``record`` keeps ``<out>/batch.json`` (what became of each picture, this run's and earlier
runs'), written by ``record_files`` (a snapshot and a journal of changes) under ``lock`` (one
batch per folder); ``driver`` plans and takes the folder, ``dispatch`` hands pictures to free
workers, a bounded number at a time, with every wait bounded (``limits``): a worker that never
starts is given up, a picture that hangs is stopped and tried elsewhere, a picture whose worker
died is retried; ``work`` is the worker itself (one engine, models resident between pictures,
the same generate job the commands run), which ``local`` runs in one process per GPU on this
machine and ``ray_pool`` as one Ray actor per GPU on a cluster, its run files coming back as
bytes (``run_import`` writes them into ``--out``).
"""
