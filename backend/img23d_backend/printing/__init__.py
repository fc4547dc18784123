"""Printing what img23d made: a mesh, or a Generate run as one plate, made watertight, scaled in millimetres,
solid or hollow, and written as a 3MF and binary STLs with a ``print.json`` record (issue 90, docs/print.md).

  counts        a mesh file's triangles from its header, refused before anything is loaded
  sources       what to print: a mesh file, or a run's objects with their placements, paths kept in the run
  repair        closed and manifold: merge, wind, fill holes, union what overlaps, else rebuild from a grid
  remesh        that grid: a surface that cannot be repaired rebuilt as the solid it bounds
  intersections whether a surface passes through itself (triangle pairs, a grid to find candidates)
  scale         the layout's placement and the artist's millimetres turned into one transform per object
  hollow        a wall of the asked thickness and drain holes at the cavity's lowest points
  thickness     the thinnest wall, measured by rays from the surface inward
  plate         where each object stands on the plate: the layout's places, spread apart where they overlap
  colour        each object's one display colour, from its texture or vertex colours
  threemf       the 3MF (lib3mf), written in millimetres and read back
  stl           binary STL, written here and read back through trimesh
  checks        every file read back and proved: closed, positive volume, outward, no self-intersection, size
  record        ``print.json``
  prepare       each object read, repaired, placed, scaled, cut flat, hollowed and measured, in memory
  plate_files   the 3MF and STLs written into the print's folder, each read back and checked
  request       the protocol's ``PrintRequest`` in (what the artist asks: height, object, hollow, wall, drain
                holes, base; its ranges and checks are the protocol's), ``PrintResult`` out: the command line's
                and the add-on's way in (``jobs.kinds.prints``)
  libraries     manifold3d and lib3mf loaded, or one sentence saying the environment lacks them

Why these libraries: manifold3d (Apache-2.0) is the solid kernel: its ``Manifold`` refuses a mesh that is not
closed and manifold (``status``), so building one is the proof, and its booleans (union, difference, trim by a
plane) are exact and always return a manifold, which is what hollowing, drain holes and a flat base need. trimesh
does the repairs that need no kernel (winding made consistent and outward) and reads the STL back, a second
reader beside the one that wrote it; the project's own hole filler (``mesh.holes``) closes holes of any
size, where trimesh's closes triangles and quads only. lib3mf, the 3MF Consortium's own library, writes the 3MF
and reads it back as a slicer's reader would.
"""
