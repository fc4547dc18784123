"""More pictures of one object: the views an artist gives beside the front picture (its left, back
and right, ``img23d_protocol.views``), how the jobs read and cut them out, and how they are used
after the shape is made (projected onto the painted texture)."""
