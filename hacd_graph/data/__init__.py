"""Data for hacd_graph: synthetic hierarchical audio scenes, real-dataset loaders,
audio reading, features (log-mel, Kaldi fbank, SpecAugment, on-disk cache) and the
text targets (captions, QA, hierarchical descriptions) made from scene records.

Sub-modules are imported where used, so ``import hacd_graph.data`` stays cheap.
"""
