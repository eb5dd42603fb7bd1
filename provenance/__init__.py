"""provenance: is this French article a machine-translated republication of an English original?

The pipeline reads as its modules: documents -> segment -> translate -> retrieve -> score/align
-> verdict -> report, with `store` keeping runs and the translation cache in SQLite.
"""

__version__ = "0.1.0"
