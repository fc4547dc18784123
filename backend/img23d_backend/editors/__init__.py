"""The image editors: the code that fills in what is hidden in an object's crop (completion), and that
makes a picture from text where the editor can (``text_picture``).

  editor      the interface: ``EditorRow`` (an editor's facts) and ``Editor`` (its code)
  table       the editors by choice name, each folder's row or code imported on first use
  driver      ``edit_images``: the three phases through the model manager, whichever editor it is
  pipeline    the request, diffusers' pipeline over a phase's parts, the canvas it edits on
  canvas      the crop on a canvas its pipeline keeps, and the answer back onto the crop
  parts       each part read on its own, in the dtype it runs in; weights: shards read into place
  memory      what each phase needs where, and the placement that fits
  costs       completion's seconds on this device, scaled from the measured run
  text_picture  a picture made from text (``generate --prompt``): the same phases, one request without a crop
  text_prompt   what it starts from: the template, the picture's side, the one object's name, which editor makes it
  flux2_klein FLUX.2 [klein] 4B, the default; qwen_edit: Qwen-Image-Edit-2511, the large one

Nothing outside this room names an editor (tests/test_model_rooms_boundary.py).
"""
