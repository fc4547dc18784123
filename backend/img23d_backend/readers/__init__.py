"""What comes in from the user's disk, read and checked: pictures (images) and mesh files (meshes)."""
