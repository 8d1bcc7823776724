"""The analyses a run can compute, one plug-in module each.

What a module must define is the typed Protocol `contract.Analysis` (and the optional
members `contract.OPTIONAL`); `registry` imports every plug-in, checks it and finds it by
name. Adding an analysis is adding a module here, to `registry`, and its settings to a
config in `experiments/configs/analyses/`.
"""
