"""The bake (finish/bake): MikkTSpace tangents as Blender computes them, normal maps that decode to the
high mesh's normals through those tangents and equal Blender's own Cycles bake, colour read from a
texture or from vertex colours (by ray and by the nearest-point fallback), hard normals along sharp
seams, the gutter dilated, and no colour map without colour.

Small meshes and 128-192 px maps; one UV worker process serves every bake of the module.
"""

from __future__ import annotations

from typing import Iterator

import bpy
import numpy as np
import pytest
import trimesh
from PIL import Image
from scipy import ndimage

from img23d_backend.env.job_control import CancelToken
from img23d_backend.finish.bake import BakedMesh, BakeSettings, bake
from img23d_backend.finish.bake.pipeline import smooth_normals
from img23d_backend.finish.bake.normal_map import decode
from img23d_backend.finish.bake.tangents import mikktspace_tangents, split_by_corner_tangents
from img23d_backend.finish.bake.uv_raster import rasterize_uv
from img23d_backend.readers.colour_space import linear_to_srgb
from img23d_backend.uv.unwrap import Unwrapper, unwrap_arrays

AMPLITUDE, FX, FY = 0.15, 3.0, 2.0  # the bumpy plane: z = A sin(FX x) cos(FY y) over [-1, 1]^2


@pytest.fixture(scope="module")
def unwrapper() -> Iterator[Unwrapper]:
    with Unwrapper(CancelToken()) as worker:
        yield worker


def _grid(n: int, z: float = 0.0) -> trimesh.Trimesh:
    """A square [-1, 1]^2 at height ``z``, n x n quads split into triangles, facing +z."""
    xs = np.linspace(-1.0, 1.0, n + 1)
    x, y = np.meshgrid(xs, xs, indexing="xy")
    vertices = np.stack([x.ravel(), y.ravel(), np.full(x.size, z)], axis=1)
    i = np.arange(n)[None, :] + (n + 1) * np.arange(n)[:, None]
    a, b, c, d = i.ravel(), i.ravel() + 1, i.ravel() + n + 2, i.ravel() + n + 1
    faces = np.concatenate([np.stack([a, b, c], 1), np.stack([a, c, d], 1)])
    return trimesh.Trimesh(vertices, faces, process=False)


def _bumpy(n: int = 120) -> trimesh.Trimesh:
    mesh = _grid(n)
    x, y = mesh.vertices[:, 0], mesh.vertices[:, 1]
    mesh.vertices[:, 2] = AMPLITUDE * np.sin(FX * x) * np.cos(FY * y)
    return trimesh.Trimesh(mesh.vertices, mesh.faces, process=False)


def _bumpy_normal(points: np.ndarray) -> np.ndarray:
    x, y = points[:, 0], points[:, 1]
    dzdx = AMPLITUDE * FX * np.cos(FX * x) * np.cos(FY * y)
    dzdy = -AMPLITUDE * FY * np.sin(FX * x) * np.sin(FY * y)
    normal = np.stack([-dzdx, -dzdy, np.ones_like(x)], axis=1)
    return normal / np.linalg.norm(normal, axis=1, keepdims=True)


def _pattern(uv: np.ndarray) -> np.ndarray:
    """The known texture: a smooth colour of (u, v)."""
    u, v = uv[:, 0], uv[:, 1]
    return np.stack([u, v, 0.5 + 0.4 * np.sin(2 * np.pi * u) * np.cos(np.pi * v)], axis=1)


def _textured(mesh: trimesh.Trimesh, size: int = 256) -> trimesh.Trimesh:
    """``mesh`` with UVs (x, y) -> ((x + 1) / 2, (y + 1) / 2) and the pattern as its texture."""
    uv = (mesh.vertices[:, :2] + 1.0) / 2.0
    centres = (np.arange(size) + 0.5) / size
    u, v = np.meshgrid(centres, 1.0 - centres, indexing="xy")  # row 0 is v = 1
    pixels = _pattern(np.stack([u.ravel(), v.ravel()], axis=1)).reshape(size, size, 3)
    image = Image.fromarray(np.round(pixels * 255).astype(np.uint8), "RGB")
    visual = trimesh.visual.TextureVisuals(uv=uv, material=trimesh.visual.material.PBRMaterial(baseColorTexture=image))
    return trimesh.Trimesh(mesh.vertices, mesh.faces, visual=visual, process=False)


def _texels(baked: BakedMesh, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per covered texel: (row, column), surface point, and the world normal its map decodes to.

    Decoded as glTF specifies (bitangent = w * cross(normal, tangent), normal = T x + B y + N z)."""
    cover = rasterize_uv(baked.uvs, baked.faces, size)
    corners = baked.faces[cover.face]
    points = np.einsum("nk,nkd->nd", cover.bary, baked.vertices[corners])
    normal = np.einsum("nk,nkd->nd", cover.bary, baked.normals[corners])
    tangent = np.einsum("nk,nkd->nd", cover.bary, baked.tangents[corners][..., :3])
    normal /= np.linalg.norm(normal, axis=1, keepdims=True)
    tangent -= np.sum(tangent * normal, 1, keepdims=True) * normal
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True)
    bitangent = baked.tangents[corners][:, 0, 3:4] * np.cross(normal, tangent)
    local = decode(np.asarray(baked.normal, dtype=np.float64)[cover.rows, cover.cols] / 255.0)
    world = local[:, :1] * tangent + local[:, 1:2] * bitangent + local[:, 2:3] * normal
    return np.stack([cover.rows, cover.cols], 1), points, world / np.linalg.norm(world, axis=1, keepdims=True), local


def _degrees(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.degrees(np.arccos(np.clip(np.sum(a * b, axis=1), -1.0, 1.0)))


def _blender_tangents(vertices: np.ndarray, faces: np.ndarray, corner_uvs: np.ndarray,
                      vertex_normals: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Blender's own MikkTSpace (Mesh.calc_tangents): per corner tangent, sign and the normals it used."""
    mesh = bpy.data.meshes.new("tangents")
    try:
        mesh.from_pydata(vertices.tolist(), [], faces.tolist())
        mesh.uv_layers.new(name="UVMap")
        mesh.uv_layers[0].data.foreach_set("uv", corner_uvs.astype(np.float32).ravel())
        mesh.polygons.foreach_set("use_smooth", np.ones(len(faces), dtype=bool))
        if vertex_normals is not None:
            mesh.normals_split_custom_set_from_vertices(vertex_normals.tolist())
        mesh.update()
        mesh.calc_tangents()
        loops = len(mesh.loops)
        tangent, sign, normal = np.zeros(loops * 3, np.float32), np.zeros(loops, np.float32), np.zeros(loops * 3, np.float32)
        mesh.loops.foreach_get("tangent", tangent)
        mesh.loops.foreach_get("bitangent_sign", sign)
        mesh.corner_normals.foreach_get("vector", normal)
        order = np.zeros(loops, np.int32)
        mesh.loops.foreach_get("vertex_index", order)
        assert (order == faces.reshape(-1)).all()  # one loop per corner, in face order
        return tangent.reshape(-1, 3, 3), sign.reshape(-1, 3), normal.reshape(-1, 3, 3)
    finally:
        bpy.data.meshes.remove(mesh)


def test_mikktspace_tangents_match_blenders_per_corner() -> None:
    sphere = trimesh.creation.icosphere(subdivisions=3)
    noisy = sphere.vertices + np.random.default_rng(0).normal(0.0, 0.02, sphere.vertices.shape)
    vertices, faces, uvs = unwrap_arrays(noisy, sphere.faces)
    corner_uvs = uvs[faces].copy()
    corner_uvs[:30, :, 1] *= -1.0  # mirrored UVs: the sign flips and the groups split by orientation
    corner_uvs[50:60] = corner_uvs[50:60, :1]  # zero UV area: "group with any" triangles
    corner_uvs[70:72, :, 1] = corner_uvs[70:72, :, 0]  # UVs on a line: zero area too
    # a fin (a third triangle on an edge: non-manifold) and a triangle with two corners at one
    # position (degenerate: it copies its corners' spaces from good triangles, or keeps the default)
    a, b = faces[100, 0], faces[100, 1]
    vertices = np.vstack([vertices, vertices[a] * 1.3, vertices[a]])
    faces = np.vstack([faces, [b, a, len(vertices) - 2], [a, len(vertices) - 1, b]])
    corner_uvs = np.concatenate([corner_uvs, [[uvs[b], uvs[a], [0.9, 0.9]], [uvs[a], uvs[a] + 0.01, uvs[b]]]])
    tangent, sign, normals = _blender_tangents(vertices, faces, corner_uvs)

    ours = mikktspace_tangents(vertices[faces], normals, corner_uvs)

    assert (sign == -1).any() and (sign == 1).any()
    assert np.abs(ours[..., :3] - tangent).max() < 1e-4
    assert (ours[..., 3] == sign).all()


def test_a_vertex_whose_corners_disagree_is_split_and_the_rest_keep_their_indices() -> None:
    faces = np.array([[0, 1, 2], [2, 1, 3]])
    corner = np.zeros((2, 3, 4))
    corner[..., 0], corner[..., 3] = 1.0, 1.0
    corner[1, 0] = (0.0, 1.0, 0.0, -1.0)  # vertex 2 in the second face: another group

    source, new_faces, tangents = split_by_corner_tangents(faces, corner)

    assert source.tolist() == [0, 1, 2, 2, 3]
    assert np.array_equal(tangents[new_faces], corner)


def test_baked_tangents_are_blenders_for_the_baked_normals(unwrapper: Unwrapper) -> None:
    high = trimesh.creation.icosphere(subdivisions=3)
    low = trimesh.creation.icosphere(subdivisions=1)
    baked = bake(high, low.vertices, low.faces, BakeSettings(size=128, padding=2), unwrapper=unwrapper)

    # Blender reading the GLB's normals (as custom normals) and UVs computes the same tangents
    tangent, sign, _ = _blender_tangents(baked.vertices, baked.faces, baked.uvs[baked.faces], baked.normals)
    assert np.abs(baked.tangents[baked.faces][..., :3] - tangent).max() < 1e-4
    assert (baked.tangents[baked.faces][..., 3] == sign).all()


def _split_apart(mesh: trimesh.Trimesh) -> tuple[np.ndarray, np.ndarray]:
    """Every face with vertices of its own, as if a UV seam ran along every edge."""
    return mesh.vertices[mesh.faces].reshape(-1, 3), np.arange(mesh.faces.size).reshape(-1, 3)


def test_seams_along_sharp_edges_keep_hard_normals_and_gentle_ones_are_shared() -> None:
    vertices, faces = _split_apart(trimesh.creation.box())
    corner = vertices / np.linalg.norm(vertices, axis=1, keepdims=True)
    face_normals = np.repeat(trimesh.Trimesh(vertices, faces, process=False).face_normals, 3, axis=0)
    assert np.allclose(smooth_normals(vertices, faces, hard_angle=60.0), face_normals)
    assert np.allclose(smooth_normals(vertices, faces, hard_angle=180.0), corner)

    vertices, faces = _split_apart(trimesh.creation.icosphere(subdivisions=3))
    radial = vertices / np.linalg.norm(vertices, axis=1, keepdims=True)
    assert _degrees(smooth_normals(vertices, faces, hard_angle=60.0), radial).max() < 1.0


def test_flat_plane_over_bumps_bakes_the_bumps_normals(unwrapper: Unwrapper) -> None:
    low = _grid(4)
    baked = bake(_bumpy(), low.vertices, low.faces, BakeSettings(size=160, cage=0.1, padding=4), unwrapper=unwrapper)
    _, points, world, local = _texels(baked, 160)

    expected = _bumpy_normal(points)
    error = _degrees(world, expected)
    assert baked.stats.by_ray == baked.stats.texels > 0.5 * 160 * 160
    assert np.degrees(np.arccos(local[:, 2].min())) > 20  # the bumps are in the map, not a flat one
    assert error.mean() < 1.0 and np.percentile(error, 99) < 3.0


def test_sphere_onto_its_coarse_self_bakes_radial_normals(unwrapper: Unwrapper) -> None:
    high = trimesh.creation.icosphere(subdivisions=4)
    low = trimesh.creation.icosphere(subdivisions=1)  # 80 faces: the faces sag up to 0.2 inside
    baked = bake(high, low.vertices, low.faces, BakeSettings(size=192, cage=0.1, padding=4), unwrapper=unwrapper)
    _, points, world, _ = _texels(baked, 192)

    error = _degrees(world, points / np.linalg.norm(points, axis=1, keepdims=True))
    assert baked.base_color is None
    assert error.mean() < 1.0 and np.percentile(error, 99) < 3.0


def _blender_object(name: str, vertices: np.ndarray, faces: np.ndarray, uvs: np.ndarray | None = None,
                    normals: np.ndarray | None = None) -> bpy.types.Object:
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata(vertices.tolist(), [], faces.tolist())
    mesh.polygons.foreach_set("use_smooth", np.ones(len(faces), dtype=bool))
    if uvs is not None:
        mesh.uv_layers.new(name="UVMap")
        mesh.uv_layers[0].data.foreach_set("uv", uvs[faces].astype(np.float32).ravel())
    if normals is not None:
        mesh.normals_split_custom_set_from_vertices(normals.tolist())
    mesh.update()
    obj = bpy.data.objects.new(name, mesh)
    bpy.context.scene.collection.objects.link(obj)
    return obj


def _cycles_normal_bake(high: trimesh.Trimesh, baked: BakedMesh, size: int, extrusion: float) -> np.ndarray:
    """Blender's own bake (Cycles, tangent space, selected to active) of ``high`` onto the baked mesh."""
    scene = bpy.context.scene
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = 1
    source = _blender_object("high", high.vertices, high.faces, normals=high.vertex_normals)
    target = _blender_object("low", baked.vertices, baked.faces, baked.uvs, baked.normals)
    image = bpy.data.images.new("normal", size, size, float_buffer=True)
    image.colorspace_settings.name = "Non-Color"
    material = bpy.data.materials.new("low")
    node = material.node_tree.nodes.new("ShaderNodeTexImage")
    node.image = image
    material.node_tree.nodes.active = node
    target.data.materials.append(material)
    try:
        for obj in bpy.context.view_layer.objects:
            obj.select_set(obj in (source, target))
        bpy.context.view_layer.objects.active = target
        bpy.ops.object.bake(type="NORMAL", normal_space="TANGENT", use_selected_to_active=True,
                            cage_extrusion=extrusion, max_ray_distance=2 * extrusion, margin=0)
        return np.array(image.pixels[:]).reshape(size, size, 4)[::-1, :, :3]  # Blender's rows run up
    finally:
        for obj in (source, target):
            mesh = obj.data
            bpy.data.objects.remove(obj)
            bpy.data.meshes.remove(mesh)
        bpy.data.materials.remove(material)
        bpy.data.images.remove(image)


def test_normal_map_equals_blenders_own_bake(unwrapper: Unwrapper) -> None:
    high = trimesh.creation.icosphere(subdivisions=4)
    bumps = 1.0 + 0.05 * np.sin(6 * high.vertices[:, 0]) * np.cos(5 * high.vertices[:, 1])
    high = trimesh.Trimesh(high.vertices * bumps[:, None], high.faces)
    low = trimesh.creation.icosphere(subdivisions=1)
    baked = bake(high, low.vertices, low.faces, BakeSettings(size=128, cage=0.1, padding=0), unwrapper=unwrapper)

    theirs = _cycles_normal_bake(high, baked, 128, extrusion=0.2)

    # texels a texel away from every triangle edge: the two rasterisers' edge rules differ
    rows, cols = np.nonzero(ndimage.binary_erosion(rasterize_uv(baked.uvs, baked.faces, 128).mask()))
    ours = decode(np.asarray(baked.normal, dtype=np.float64)[rows, cols] / 255.0)
    error = _degrees(ours, decode(theirs[rows, cols]))
    assert len(rows) > 5000
    assert np.degrees(np.arccos(decode(theirs[rows, cols])[:, 2])).mean() > 5  # the bumps are in both
    assert error.max() < 1.0


def test_texture_colour_is_transferred_along_the_normals(unwrapper: Unwrapper) -> None:
    low = _grid(4)
    baked = bake(_textured(_bumpy()), low.vertices, low.faces, BakeSettings(size=160, cage=0.1, padding=4),
                 unwrapper=unwrapper)
    texel, points, _, _ = _texels(baked, 160)

    colours = np.asarray(baked.base_color, dtype=np.float64)[texel[:, 0], texel[:, 1]] / 255.0
    error = np.abs(colours - _pattern((points[:, :2] + 1.0) / 2.0))
    assert error.mean() < 0.01 and error.max() < 0.05


def test_without_a_hit_in_the_cage_the_nearest_point_gives_the_colour(unwrapper: Unwrapper) -> None:
    low = _grid(4, z=0.5)  # half a unit above the textured plane, the cage reaching 0.03
    baked = bake(_textured(_grid(40)), low.vertices, low.faces, BakeSettings(size=128, cage=0.01, padding=2),
                 unwrapper=unwrapper)
    texel, points, _, _ = _texels(baked, 128)

    colours = np.asarray(baked.base_color, dtype=np.float64)[texel[:, 0], texel[:, 1]] / 255.0
    assert baked.stats.by_ray == 0 and baked.stats.by_nearest == baked.stats.texels > 0
    assert np.abs(colours - _pattern((points[:, :2] + 1.0) / 2.0)).max() < 0.05


def test_vertex_colours_are_transferred(unwrapper: Unwrapper) -> None:
    high = trimesh.creation.icosphere(subdivisions=4)
    high.visual.vertex_colors = np.round((0.5 + 0.5 * high.vertices) * 255).astype(np.uint8)
    low = trimesh.creation.icosphere(subdivisions=2)
    baked = bake(high, low.vertices, low.faces, BakeSettings(size=128, cage=0.05, padding=2), unwrapper=unwrapper)
    texel, points, _, _ = _texels(baked, 128)

    colours = np.asarray(baked.base_color, dtype=np.float64)[texel[:, 0], texel[:, 1]] / 255.0
    expected = linear_to_srgb(0.5 + 0.5 * points / np.linalg.norm(points, axis=1, keepdims=True))  # linear, as COLOR_0
    assert np.abs(colours - expected).mean() < 0.01


def test_gutter_within_padding_holds_the_charts_colour(unwrapper: Unwrapper) -> None:
    high = trimesh.creation.icosphere(subdivisions=3)
    high.visual.vertex_colors = np.round((0.5 + 0.5 * high.vertices) * 255).astype(np.uint8)
    low = trimesh.creation.icosphere(subdivisions=1)
    padding = 4
    baked = bake(high, low.vertices, low.faces, BakeSettings(size=128, cage=0.1, padding=padding), unwrapper=unwrapper)

    covered = rasterize_uv(baked.uvs, baked.faces, 128).mask()
    distance, (rows, cols) = ndimage.distance_transform_cdt(~covered, metric="chessboard", return_indices=True)
    gutter = ~covered & (distance <= padding)
    assert gutter.sum() == baked.stats.filled > 0
    window = 2 * padding + 1
    for image in (np.asarray(baked.base_color, dtype=np.float64) / 255.0, np.asarray(baked.normal, dtype=np.float64) / 255.0):
        # every gutter texel holds a colour of the charts around it (between two charts, a blend of both)
        highest = ndimage.maximum_filter(np.where(covered[..., None], image, -1.0), size=(window, window, 1))
        lowest = ndimage.minimum_filter(np.where(covered[..., None], image, 2.0), size=(window, window, 1))
        assert (image[gutter] <= highest[gutter] + 0.01).all() and (image[gutter] >= lowest[gutter] - 0.01).all()
        # and mostly its nearest chart's: the background fill (the mean colour) would be ~0.3 away
        assert np.abs(image[gutter] - image[rows[gutter], cols[gutter]]).mean() < 0.03


def test_a_linear_base_colour_factor_is_applied_in_linear_light(unwrapper: Unwrapper) -> None:
    """glTF's baseColorFactor is linear: a grey 0.5 factor over white bakes sRGB 0.735 (188), not 128."""
    high = trimesh.creation.icosphere(subdivisions=3)
    white = Image.new("RGB", (8, 8), (255, 255, 255))
    factor = [128, 64, 255, 255]  # linear 0.502, 0.251, 1.0
    high.visual = trimesh.visual.TextureVisuals(
        uv=np.full((len(high.vertices), 2), 0.5),
        material=trimesh.visual.material.PBRMaterial(baseColorTexture=white, baseColorFactor=factor))
    flat = trimesh.creation.icosphere(subdivisions=3)
    flat.visual = trimesh.visual.TextureVisuals(material=trimesh.visual.material.PBRMaterial(baseColorFactor=factor))
    low = trimesh.creation.icosphere(subdivisions=1)
    linear = np.asarray(factor[:3]) / 255.0
    expected = np.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear ** (1 / 2.4) - 0.055)
    for high_mesh in (high, flat):
        baked = bake(high_mesh, low.vertices, low.faces, BakeSettings(size=64, cage=0.1, padding=2), unwrapper=unwrapper)
        covered = rasterize_uv(baked.uvs, baked.faces, 64).mask()
        colours = np.asarray(baked.base_color, dtype=np.float64)[covered] / 255.0
        assert np.abs(colours - expected).max() < 1.5 / 255


def test_the_metallic_roughness_texture_is_transferred_with_its_factors(unwrapper: Unwrapper) -> None:
    """The material step's map (roughness in G, metallic in B) follows the colour through the same hits,
    read as linear data (no sRGB curve), its factors multiplied in; a mesh without one bakes none."""
    high = _textured(_bumpy())
    size = 256
    centres = (np.arange(size) + 0.5) / size
    u, v = np.meshgrid(centres, 1.0 - centres, indexing="xy")
    maps = np.stack([np.ones_like(u), u, v], axis=-1)  # roughness = u, metallic = v
    high.visual.material.metallicRoughnessTexture = Image.fromarray(np.round(maps * 255).astype(np.uint8), "RGB")
    high.visual.material.roughnessFactor, high.visual.material.metallicFactor = 0.5, 1.0
    low = _grid(4)
    baked = bake(high, low.vertices, low.faces, BakeSettings(size=160, cage=0.1, padding=4), unwrapper=unwrapper)
    texel, points, _, _ = _texels(baked, 160)

    read = np.asarray(baked.metallic_roughness, dtype=np.float64)[texel[:, 0], texel[:, 1]] / 255.0
    expected_uv = (points[:, :2] + 1.0) / 2.0
    assert np.abs(read[:, 1] - 0.5 * expected_uv[:, 0]).max() < 0.03  # roughness, times its factor 0.5
    assert np.abs(read[:, 2] - expected_uv[:, 1]).max() < 0.03  # metallic
    colours = np.asarray(baked.base_color, dtype=np.float64)[texel[:, 0], texel[:, 1]] / 255.0
    assert np.abs(colours - _pattern(expected_uv)).mean() < 0.01  # the colour as before
    plain = bake(_textured(_bumpy()), low.vertices, low.faces, BakeSettings(size=64, cage=0.1, padding=2),
                 unwrapper=unwrapper)
    assert plain.metallic_roughness is None


def test_a_mesh_without_colour_bakes_only_the_normal_map(unwrapper: Unwrapper) -> None:
    high = trimesh.creation.icosphere(subdivisions=3)
    low = trimesh.creation.icosphere(subdivisions=1)
    baked = bake(high, low.vertices, low.faces, BakeSettings(size=128, padding=2), unwrapper=unwrapper)

    assert baked.base_color is None and baked.metallic_roughness is None
    assert baked.normal.size == (128, 128) and baked.normal.mode == "RGB"
    assert len(baked.vertices) == len(baked.uvs) == len(baked.normals) == len(baked.tangents)
    assert len(baked.faces) == len(low.faces)


def test_the_bake_prints_nothing_on_stdout(capfd: pytest.CaptureFixture[str]) -> None:
    """The backend's stdout is the protocol: neither Embree nor xatlas (in its own worker) may write there."""
    high = trimesh.creation.icosphere(subdivisions=2)
    low = trimesh.creation.icosphere(subdivisions=1)
    bake(high, low.vertices, low.faces, BakeSettings(size=64, padding=1))

    assert capfd.readouterr().out == ""
