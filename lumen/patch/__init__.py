"""Patch: turns rendered frames into LED pixels and fixture channels (DMX).

Layer: patch. Threads: the frame thread.
"""
