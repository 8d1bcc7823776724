"""Attacks and Ford et al.'s quantities, each over a `Classifier` (`experiments.classifier`):

pgd          the one ℓ2 PGD engine (fixed steps or stop at the first error, pixel or
             latent space through the renderer, clipped or not) and noise at a norm
ford         error rates in Gaussian noise, σ(x, μ), distances to the nearest error
ford_latent  the same in latent space, every noisy latent relabelled with Shapely
manifold     the nearest curve of an image, and whether it keeps its label
apgd         APGD (Croce & Hein 2020), ℓ2: step-size-free PGD, cross-entropy or margin loss
square       the ℓ2 Square attack (Andriushchenko et al. 2020): gradient-free random search
ensemble     APGD-CE, APGD-margin and Square on every example: AutoAttack for two classes
losses       what an attack raises: the two-class margin in units of the clean margin
             (AutoAttack's DLR needs a third logit)
"""
