"""glTF's side of img23d: what turns between Blender's frame and glTF's, and what reads glTF's own structures.

  frame        the one axis turn between Blender's Z-up frame (img23d's) and glTF's Y-up frame
  document     a glTF's bound and its JSON document, with the standard library alone
  bounds       what a glTF's JSON says (its nodes, objects, node graph, triangles) checked before anything is built
  data         a glTF file's document and binary data, bounded: the one way img23d decodes a glTF's arrays
  scene        the node graph checked and every mesh node gathered in img23d's frame (what a rig reads)
"""
