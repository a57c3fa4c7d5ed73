"""Audio sources: sound cards, files and generated music, feeding the listen process.

Layer: audio. Threads: see each module.
"""
