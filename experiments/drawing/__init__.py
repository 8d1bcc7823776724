"""The figures of `experiments.figures`, drawn from the stored results of analysis runs
(`experiments.runs.store`: summary.json, settings.json, the typed results of
`experiments.results` and the CSVs beside them) and never from new attacks or generated
examples: drawing imports no analysis, attack or training code. One module per kind of
figure:

  common      pyplot without a display, image panels, run labels, the files written beside
  inputs      what each figure needs from its runs, checked before any figure is drawn
  accuracy    accuracy against ε: pixel PGD and noise (fig 10), latent PGD (fig 9)
  boundary    distances to the true decision boundary (fig 8)
  example_grids  pictures of attacked examples: one curve at several ε (fig 3), side by
              side with the perturbation (fig 11)
  errors      errors grouped by true class (fig 7)
  ford        Ford et al. (2019) from experiments.noise_analysis runs: σ(x, 1 %) against the
              distance to the nearest error (their fig 2), the isoperimetric bound (fig 4),
              accuracy in noise and the distribution of μ(x, σ)
  church      church windows in pixel and latent space (their fig 3)
  corruptions the Squiggles-C heat map of `experiments.evaluate --corruptions`
"""
