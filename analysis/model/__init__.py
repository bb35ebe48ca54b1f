"""What a model gives: out-of-fold probabilities (the automatic model), feature
preparation and 2-D projections, nearest neighbours.
"""
