"""Pure wire-format encoders (sACN; later Art-Net, DDP, OSC): bytes in preallocated buffers.

Layer: output. Threads: each encoder instance belongs to one thread (the output thread); the
encoders do no I/O, so tests and benchmarks may drive them from any single thread.
"""
