"""The ground floor: validation, compiled kernels, selection, the confident joint and
its calibration (:mod:`~analysis.core.confident`), the exact filters and rankings
(:mod:`~analysis.core.issues`), the same passes in chunks and on Dask
(:mod:`~analysis.core.chunked`), sparse matrices for many classes, memory limits
and the on-disk cache. Imports nothing else of ``analysis``.
"""
