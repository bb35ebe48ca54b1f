"""Several annotators per row: agreement statistics, annotator quality and a
quality-weighted consensus.
"""
