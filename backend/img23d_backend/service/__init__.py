"""The JSON-lines service Blender talks to: the server loop, uploads and fetches, the run index, the warm-up."""
