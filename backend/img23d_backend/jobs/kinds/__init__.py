"""The kinds of job, one module each (and the modules only one kind uses): generate (with generate_parts,
prompt_picture and job_estimate, Generate's own), regenerate, retexture, retopo, rig, parts, picture, detect,
suggest, prints, download. Each is a ``JobRun`` the engine's job table (``jobs.engine``) names; a kind runs its
steps (``jobs.steps``) and the rooms' drivers, and no kind imports another but Generate's own and Regenerate (a
Generate again).
"""
