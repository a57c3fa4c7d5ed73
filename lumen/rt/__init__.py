"""Real-time building blocks: ring buffer, mailbox, inbox, counters, clock, the `@realtime` mark.

Layer: rt (the foundation; imports nothing else from lumen but `errors`).
"""
