"""Evaluation as the paper does it (Section 7): multi-crop softmax averaging, ensembles, top-1/top-5.

Models run through :mod:`googlenet.runtime` back ends, fed by :mod:`googlenet.preprocess`. This package file
imports nothing, so :mod:`googlenet.preprocess` can use :mod:`.crops` without loading the evaluation.
"""
