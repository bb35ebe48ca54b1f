"""Issue types beside the label filter: near duplicates, outliers, neighbour
disagreement; the per-row signal table and the dataset checks.
"""
