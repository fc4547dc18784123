"""A mesh's UVs, what every family's painting shares: the UV unwrap made ahead in a worker (unwrap) by box projection
(box_unwrap, over box_charts, chart_cuts and chart_packing; uv_layout measures a layout), a mesh's UVs, its own
or the unwrap's (uvs), the texels no view saw (fill), and re-texturing an artist's mesh (retexture).
Hunyuan3D-Paint is in ``families.hunyuan3d``."""
