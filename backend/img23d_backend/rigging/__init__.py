"""Rigging: a skeleton and per-vertex skin weights for a mesh (issue 65), written as a glTF skin.

  driver       a rig, whichever rigger makes it: the mesh read, the rigger (its model registered, checked and
               run through the job's model manager, or read here; the geometric binding standing in, said),
               the rig written; ``jobs/kinds/rig.py`` only adapts the command line's input and the protocol's request
  rig_files    the mesh read as the glTF the rig is written into (the add-on's mesh file as every job reads
               it: ``readers.artist_mesh``), the weights saved
  rigger       the interface: ``RigMesh`` (what a rigger reads), ``Rig`` (what it makes), ``Rigger``, and
               ``RigModel`` (what a rigger that runs a model brings: its role, spec, loader, estimate,
               preflight, its rig through a loaded network, its replica)
  table        the riggers by ``--weights`` choice name, each module imported on first use
  skeleton     ``Skeleton``: joint names, heads, tails, parents; validated (a forest, no cycle, finite)
  skin         ``Skin``: each vertex's strongest four joints, weights summing to 1
  voxels       the mesh as filled voxels (the inside found from a dilated shell)
  inside       which side of the surface a point lies on (what keeps nearly touching limbs apart)
  geodesic     distances from each bone through the filled voxels (multi-source Dijkstra)
  thickness    each bone's thickness along it (distances read in units of it)
  geometric    the geometric binding: geodesic voxel binding (Dionne & de Lasa 2013), no model
  medial       a skeleton from the shape alone: the voxel medial axis as chains of bones
  names        Mixamo's names for a humanoid skeleton, chain names otherwise
  bone_axes    a bone's axes as its joint node carries them (+Y along it, Blender's roll 0), its length as
               Blender's importer picks it
  gltf_joints  an artist's skeleton read from a GLB/glTF skin
  gltf_skin    a GLB with the skeleton as joints and the weights as JOINTS_0/WEIGHTS_0
  transfer     weights carried from the high mesh to another (the retopologized low one)
  metrics      RigNet's measures (Xu et al. 2020): joint Chamfer, skin precision/recall, L1

Everything is in the mesh's own frame (img23d's: Z up, Blender's axes); only ``gltf.frame`` turns it
(the glTF read and written: ``gltf.scene``). A model's own rigger lives in a folder of its own
(``skintokens/``: its ``row.py`` is what ``table`` names), reached through ``table`` and ``driver`` only:
nothing outside this room names it (tests/test_model_rooms_boundary.py).
"""
