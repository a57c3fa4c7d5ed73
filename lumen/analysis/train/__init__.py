"""Training: labelled audio made by lumen itself, and the training loops of its models.

Layer: analysis (offline tooling; never imported by the live chain). Threads: the caller's.

Nothing here downloads anything, and nothing here reads ``shared/data`` (that is for
evaluation only). Training audio is built where the labels are known by construction:
General MIDI pieces that `compose` writes (rendered with FluidSynth) and lumen's own generated
dance music (`lumen.audio.music`).
"""
