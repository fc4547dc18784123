"""What the jobs' steps (``jobs.steps``) share with the model rooms below them, each importing torch lazily: crop
(each target's crop), skips (a texture or depth stage the job went on without) and step_context (what a step is
given of its job). A target's mesh (the shape settings, the clean-up, the CPU tail) is ``mesh/``'s, its UVs (the
unwrap, the fill, re-texturing's bake) ``uv/``'s, each a room of its own. It imports no job; a step's work that no model room uses lives with its driver in
``jobs/steps/``. The models every job uses have rooms of their own: grounding/, matting/, depth/."""
