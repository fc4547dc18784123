"""The protocol's version, and the package's.

The package's version is PROTOCOL_MAJOR.PROTOCOL_MINOR.patch; protocol/pyproject.toml and the
wheel's name say the same (tests/wire/test_wheel.py checks). A peer with another major version
is refused at the handshake; a newer minor adds fields an older peer ignores.
"""

__version__ = "1.29.0"
PROTOCOL_MAJOR = 1
PROTOCOL_MINOR = 29  # 1: models, download, delete (the model manager); 2: retexture;
# 3: the environment error code, and the environment the backend's hello describes;
# 4: hello limits (the largest settings the backend's memory holds);
# 5: suggest, the layout options (fov_degrees, estimate_fov, ground) and the "layout" artifact;
# 6: the volume_decoder option, and steps default to 5 (the default shape model is turbo);
# 7: steps 0 (the default) = the shape model's own, from the kinds table (shape_models); the
#    finished mesh's options (face_budget 0 keeps every face, smoothing, fill_holes, min_piece),
#    random_seed and the seed a job used in its result; variations; regenerate; boxes by hand
# 8: files over the protocol, for a backend on another machine: upload, fetch, chunk (transfer),
#    and the backend's runs_dir in its hello
# 9: runs (the backend's runs and one run's files: Import Run from a host)
# 10: every model's licence (licences.py) and the guide's address (guide.py); accepted_licences on a
#    job's options and a download request, and the licence_not_accepted error code
# 11: paint_steps 0 (the default) = the paint model's own, from the kinds table (paint_models);
#    the turbo paint model is the default
# 12: model families (families.py) and Step1X-3D's shape kinds; guidance_scale 0 (the default) = the
#    shape model's own (a backend before 1.12 reads 0 as no guidance)
# 13: octree_resolution 0 (the default) = the shape model's own (256 Hunyuan3D-2, 384 Step1X-3D);
#    game-ready finishing: topology, face_target, bake_size options and the retopo request;
#    texture_sync (the licence-clean paint model's texture sync, on by default)
# 14: the model_damaged error code (a model file that is there but damaged; an older peer reads it as
#     internal, with the same message)
# 15: the materials option (roughness and metallic maps baked beside the colour, on by default) and
#     materials_skipped in Generate's and Regenerate's results
# 16: Re-texture sends every map it made: the metallic_roughness artifact and its result's metallic_roughness
#     and materials_skipped (an older add-on reads the colour alone, as before)
# 17: complete_hidden (auto, always, never: hidden targets completed by an image editor before shape), a
#     generate request's completion_off (names kept as seen) and each target's completion record; Detect's
#     completion (per name) and completion_picture, and the "completion" artifact; edit_size (the area a crop
#     is edited at, 0: the editor's own)
# 18: the backend's hello carries costs (costs.py: one object's seconds in completion and the material
#     step on its device); accept_long on a job's options, and the long_job_not_accepted error code
# 19: views (views.py): a generate request's pictures of a name from its left, back and right, a retexture
#     request's of its mesh
# 20: splats (splats.py): the splats option, each target's splats and the "splats" artifact; the image
#     editors' rows (editors.py), which the add-on and the client list; BiRefNet_HR's licence row;
#     the run record's types (run_manifest.py, run_record.py: a manifest's format checked on read; the
#     finish's materials) and the artist's mesh file (mesh_file.py: material_names, triangle_materials)
# 21: parts (messages.PartsRequest, results.PartsJobResult): a mesh cut into named parts, mode "split"
# 22: parts drawn by a parts model (mode "model": image, mask, grid, max_parts, steps); the parts result's
#     model and licence
# 23: the parts models' rows (parts_models.py) and the riggers' (riggers.py: a rig request's weights are their
#     names), which the add-on lists instead of naming the models itself
# 24: a generate request's prompt (prompt.py: the picture made from text when the artist has none; a request
#     gives a picture or a prompt, not both); a parts request's model (a parts model's name, "" the backend's own);
#     a rig request's skeleton_file and also (rig_levels.py: what the command line's rig takes) and its result's lods
# 25: the picture request (picture.py: Make Picture, the picture alone from a prompt) and its result; the
#     "picture" artifact (Make Picture's, and a Generate's picture made from its prompt)
# 26: a picture request's variations make that many pictures to pick from (one a seed), and its result lists them
#     (pictures, seeds)
# 27: a generate request's image_prompt and image_seed (the picked picture's, recorded in its run); the
#     "estimate" progress stage (a whole line the client keeps); has_content (a prompt of invisible characters
#     is empty); a manifest's owner (pid_space, pid_started, lease_seconds: two machines of one host name apart)
# 28: the print request and its result (prints.py: Print Selected and Print Run); the limits table (limits.py:
#     each quantity's one limit), the one glTF frame (frame.py), the shared models' rows (shared_models.py:
#     grounding, matting, depth) and part_names (a split's and a parts model's names checked as the backend does)
# 29: the estimate request (estimates.py): a Generate's whole estimate, every stage, asked before it is sent and
#     answered by the function the backend weighs the Generate by (the add-on's long-job check and panel read it)
