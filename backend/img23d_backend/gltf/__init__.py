"""glTF's side of img23d: what turns between Blender's frame and glTF's, and (as they come here) what
reads and writes glTF's own structures.

  frame        the one axis turn between Blender's Z-up frame (img23d's) and glTF's Y-up frame
"""
