"""Experiments on Squiggles: train, evaluate and attack classifiers (JAX, flax, optax, orbax)."""
