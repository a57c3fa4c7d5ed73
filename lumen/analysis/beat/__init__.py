"""Beat, downbeat and tempo tracking.

Layer: analysis. Threads: the analysis thread.
"""
