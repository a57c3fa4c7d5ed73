"""Analysis: turns audio hops into feature vectors (levels, onsets, tempo, beats...).

Layer: analysis. Threads: the analysis thread of the listen process (or any single thread
offline). Analyzers register by name in `lumen.analysis.base.analyzers`.
"""
