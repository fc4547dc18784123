"""Surfaces from signed fields, for every model that decodes one (a shape family's VAE, a parts model's).

  volume    a field at query points -> a mesh: a coarse grid, finer grids near the surface, marching cubes
"""
