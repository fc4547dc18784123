"""What the jobs' steps (``jobs.steps``) share with the model rooms below them, each importing torch lazily: crop
(each target's crop), mesh/ (the shape settings, the clean-up, the CPU tail), paint/ (the UV unwrap, the fill,
re-texturing's bake), skips (a texture or depth stage the job went on without) and step_context (what a step is
given of its job). It imports no job; a step's work that no model room uses lives with its driver in
``jobs/steps/``. The models every job uses have rooms of their own: grounding/, matting/, depth/."""
