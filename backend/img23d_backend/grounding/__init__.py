"""Grounding: where the named things are in a picture, a labelled box each in its pixels, whichever model finds
them (grounder: the contract; table: the models by choice name, a folder each), which box is which name
(matching), the one call a job makes (driver: find) and suggested names (suggestions)."""
