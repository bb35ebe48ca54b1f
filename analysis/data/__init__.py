"""Datasets: reading files, schema inference, the :class:`~analysis.data.dataset.Dataset`,
splits, its stored form, the bundled samples and noise of known truth.
"""
