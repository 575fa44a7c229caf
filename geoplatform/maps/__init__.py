"""Saved thematic maps: a spec of layers, colours, filters and a view, stored and styled."""
