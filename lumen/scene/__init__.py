"""Scene layer: the scene graph, bindings and their expression language."""
