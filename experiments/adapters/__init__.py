"""Models made elsewhere, as the library's Classifier, and checks of their conventions.

    specs         load(spec): a training run, a JAX function or a PyTorch function, named
                  by one string, as a LoadedModel (Classifier, name, fingerprint)
    torch_model   torch_classifier(module): a torch.nn.Module with gradients under jax.jit
    conventions   check_conventions(classifier, family, resolution): shapes, classes,
                  pixel range and layout checked on labelled test examples

The names below load their module on first use, so importing one part (the PyTorch
adapter, say) does not import the others (the training code that restores a workdir).
torch itself is imported only when a PyTorch model is wrapped. See docs/adapters.md.
"""

import importlib

_WHERE = {
    "LoadedModel": "specs",
    "load": "specs",
    "torch_classifier": "torch_model",
    "ConventionReport": "conventions",
    "check_conventions": "conventions",
}


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f"experiments.adapters.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'experiments.adapters' has no attribute {name!r}")


__all__ = sorted(_WHERE)
