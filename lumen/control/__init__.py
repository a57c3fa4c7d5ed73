"""Control: commands from OSC, MIDI, Link and the keyboard, posted to the frame thread's inbox.

Layer: control. Threads: control threads post; the frame thread drains.
"""
