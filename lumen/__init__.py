"""lumen: an audio-reactive lighting and visuals engine.

Layers (data flows one way): audio -> analysis -> features -> scene -> render -> patch -> output,
with control and show files steering the engine. See README.md.
"""

__version__ = "0.1.0"
