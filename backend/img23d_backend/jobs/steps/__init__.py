"""The chain's steps as a job runs them, each in one place: its driver (given the job's run) and the work only it
does: cutting (crop and cut-out, with cutout), completing (with completion/), shaping (with shape_views),
painting, photo_colour, materials, finishing, splat_files. Steps import the engine's run (``jobs.base``) and the
rooms below; never a kind of job.
"""
