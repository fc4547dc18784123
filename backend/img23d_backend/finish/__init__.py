"""Game-ready finishing: an object's topology made for an artist (quads at a face target, or triangles at
a budget) and its look baked onto the new mesh (colour, tangent-space normal map). Geometry processing
only, the same for every model family: no weights, no torch."""
