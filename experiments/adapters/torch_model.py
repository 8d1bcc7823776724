"""A PyTorch module as a Classifier, with gradients, inside JAX programs.

The attacks differentiate the model's logits with respect to its input images inside
jitted loops. A PyTorch module cannot be traced by JAX, so its forward pass runs in a
`jax.pure_callback` (the whole batch in one call, in eval mode), and a `jax.custom_vjp`
supplies the derivative. Nothing of the module is traced: the Classifier's function is a
hashable wrapper of the module (static, like a function), so the compiled programs take
only the images, and two classifiers of the same module reuse one compilation.

A plain forward pass (logits, no derivative asked for) runs under `torch.no_grad()`. The
custom_vjp's forward rule instead runs the module with autograd on and keeps the graph on
the Python side, in a small bounded cache (`KEPT`), under an integer token that its
callback returns as a residual; the backward rule's callback takes that entry out and
runs only PyTorch's backward pass (`torch.autograd.grad` of the logits' cotangent). A
gradient therefore costs what it costs in PyTorch: one forward and one backward pass.
The cache only saves work: when the entry is gone (dropped as the oldest, or made in
another process) or does not match (other images, a module changed in place since), the
backward callback runs the forward pass again, so the results never depend on it.

Each callback copies the batch from JAX to PyTorch and back (and to the module's device,
CUDA when the module is there). torch is imported only when a module is wrapped, so the
package works without it.
"""

from __future__ import annotations

import collections
import functools
import itertools
import threading
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from experiments.classifier import UNIT_RANGE, Classifier

INSTALL = 'pip install -e ".[torch]"'
# How images (N, R, R) are given to the module.
LAYOUTS = {
    "NCHW": "(N, 1, R, R)",  # PyTorch's own convention: a channel axis before the pixels
    "NHW": "(N, R, R)",
    "NHWC": "(N, R, R, 1)",
}
# Forward passes kept for their backward pass, at most; each holds its activations (150 MB
# for the example CNN at a batch of 128), so a few: within a program a backward callback
# soon follows its forward callback, and a forward pass dropped here is merely recomputed.
KEEP = 8


def import_torch(what: str) -> Any:
    """The torch module, or a ModuleNotFoundError naming the extra that installs it."""
    try:
        import torch
    except ImportError as error:
        raise ModuleNotFoundError(
            f"{what} needs PyTorch, which is not installed: install the extra with {INSTALL}"
        ) from error
    return torch


class TorchLogits:
    """The function of a PyTorch Classifier: images (N, R, R) → logits (N, 2).

    Static and hashable by the module's identity, its device and the input layout, so it
    sits in a Classifier's treedef like a Python function. Its two callbacks take and
    return NumPy arrays; any leading axes beyond the batch (from `jax.vmap`) are folded
    into the one batch the module sees."""

    def __init__(self, module: Any, device: Any, input_layout: str):
        self.module, self.device, self.input_layout = module, device, input_layout
        self._accepted: set[tuple[int, ...]] = set()  # image shapes the probe passed

    def __hash__(self) -> int:
        return hash((id(self.module), str(self.device), self.input_layout))

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, TorchLogits)
            and other.module is self.module
            and str(other.device) == str(self.device)
            and other.input_layout == self.input_layout
        )

    def __repr__(self) -> str:
        return (
            f"TorchLogits({type(self.module).__name__}, device={str(self.device)!r}, "
            f"input_layout={self.input_layout!r})"
        )

    def __call__(self, images: jax.Array) -> jax.Array:
        images = jnp.asarray(images)
        if images.ndim != 3:
            raise ValueError(
                f"a PyTorch classifier takes images (N, R, R), got shape {tuple(images.shape)}"
            )
        self.probe(tuple(images.shape[1:]))
        return _logits(self, images.astype(jnp.float32))

    def probe(self, image_shape: tuple[int, ...]) -> None:
        """Runs the module once on one blank image of this shape (once per shape), so a
        module that refuses the layout or returns other than (N, 2) logits is named
        while the program is traced, not as an error deep inside a running program."""
        if image_shape in self._accepted:
            return
        torch = import_torch("a PyTorch classifier")
        given = self.tensor(np.zeros((1, *image_shape), np.float32))
        try:
            with torch.no_grad():
                output = self._run(given)
        except Exception as error:
            raise ValueError(
                f"the PyTorch module failed on a float32 tensor of shape {tuple(given.shape)} "
                f"(images (N, R, R) given as {LAYOUTS[self.input_layout]}, input_layout="
                f"{self.input_layout!r}; the layouts are {sorted(LAYOUTS)}): "
                f"{type(error).__name__}: {error}"
            ) from error
        self._check_output(output, 1)
        self._accepted.add(image_shape)

    def tensor(self, images: np.ndarray) -> Any:
        """Images (N, R, R) as the module takes them, on its device (a copy)."""
        torch = import_torch("a PyTorch classifier")
        tensor = torch.tensor(np.asarray(images, np.float32), device=self.device)
        return _arranged(tensor, self.input_layout)

    def forward(self, images: np.ndarray) -> np.ndarray:
        """Logits (..., 2) of images (..., R, R): the pure callback of the forward pass."""
        torch = import_torch("a PyTorch classifier")
        batch = images.reshape(-1, *images.shape[-2:])
        with torch.no_grad():
            output = self._run(self.tensor(batch))
        self._check_output(output, len(batch))
        return output.detach().float().cpu().numpy().reshape(*images.shape[:-2], 2)

    def forward_kept(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Logits (..., 2) of images (..., R, R) and the token under which their graph is
        kept for the backward pass: the callback of the custom_vjp's forward rule. The
        token has the shape of the axes beyond the batch (those of `jax.vmap`)."""
        batch = images.reshape(-1, *images.shape[-2:])
        graph = self._graph(batch)
        token = KEPT.put(graph)
        logits = graph.logits.detach().cpu().numpy().reshape(*images.shape[:-2], 2)
        return logits, np.full(images.shape[:-3], token, np.int32)

    def vjp_kept(self, token: np.ndarray, images: np.ndarray, cotangent: np.ndarray) -> np.ndarray:
        """The cotangent of the logits pulled back to the images (..., R, R) through the
        graph kept under `token`, or through a graph made again when that one is gone or
        was made of other images or another state of the module."""
        batch = images.reshape(-1, *images.shape[-2:])
        tokens = np.unique(token)
        graph = KEPT.pop(int(tokens[0])) if len(tokens) == 1 else None
        if graph is None or not graph.made_of(self, batch):
            graph = self._graph(batch)
        return graph.pull(cotangent).reshape(images.shape).astype(images.dtype)

    def vjp(self, images: np.ndarray, cotangent: np.ndarray) -> np.ndarray:
        """The cotangent of the logits pulled back to the images (..., R, R), by autograd,
        running the forward pass again."""
        batch = images.reshape(-1, *images.shape[-2:])
        return self._graph(batch).pull(cotangent).reshape(images.shape).astype(images.dtype)

    def _graph(self, batch: np.ndarray) -> Graph:
        """The module's forward pass over images (n, R, R) with autograd on. (The module
        itself, not torch.func: `torch.func.vjp` was 3–8 % slower on the example CNN, and
        `functional_call` swaps the module's parameters while it runs.)"""
        torch = import_torch("a PyTorch classifier")
        kept = np.array(batch, np.float32)  # a copy: the callback's array is XLA's buffer
        pixels = torch.from_numpy(kept).to(self.device).requires_grad_(True)
        with torch.enable_grad():
            output = self._run(_arranged(pixels, self.input_layout))
            self._check_output(output, len(batch))
            logits = output.float()
        return Graph(self, module_state(self.module), kept, pixels, logits)

    def _run(self, tensor: Any) -> Any:
        if self.module.training:  # set back to training mode since it was wrapped
            self.module.eval()
        return self.module(tensor)

    def _check_output(self, output: Any, count: int) -> None:
        torch = import_torch("a PyTorch classifier")
        if not isinstance(output, torch.Tensor):
            raise ValueError(
                f"the PyTorch module must return a tensor of logits (N, 2), got "
                f"{type(output).__name__}"
            )
        if tuple(output.shape) != (count, 2) or not output.is_floating_point():
            raise ValueError(
                f"the PyTorch module must return float logits of shape (N, 2) = {(count, 2)} "
                f"(class 1 = self-intersecting); for {count} image(s) it returned "
                f"{output.dtype} of shape {tuple(output.shape)} (a model with one logit z for "
                "class 1 can return torch.stack([-z / 2, z / 2], 1) instead)"
            )


class Graph(NamedTuple):
    """One forward pass with autograd on, what its backward pass needs."""

    function: TorchLogits
    state: tuple[tuple[int, int], ...]  # module_state when it ran
    images: np.ndarray  # (n, R, R) float32, as given
    pixels: Any  # the leaf tensor of the images (n, R, R), requiring grad
    logits: Any  # float32 logits (n, 2) in the graph

    def made_of(self, function: TorchLogits, batch: np.ndarray) -> bool:
        """Whether this is the graph `function` would make of `batch` now."""
        return (
            self.function == function
            and self.state == module_state(function.module)
            and self.images.shape == batch.shape
            and np.array_equal(self.images, batch)
        )

    def pull(self, cotangent: np.ndarray) -> np.ndarray:
        """The cotangent of the logits (…, 2) pulled back to the images (n, R, R); the
        graph is freed."""
        torch = import_torch("a PyTorch classifier")
        weights = torch.tensor(
            np.asarray(cotangent, np.float32).reshape(-1, 2), device=self.logits.device
        )
        (gradient,) = torch.autograd.grad(self.logits, self.pixels, grad_outputs=weights)
        return gradient.detach().cpu().numpy()


def module_state(module: Any) -> tuple[tuple[int, int], ...]:
    """Which tensors the module holds and how often each was changed in place (PyTorch's
    version counters): equal only if the module computes as it did."""
    tensors = itertools.chain(module.parameters(), module.buffers())
    return tuple((id(tensor), tensor._version) for tensor in tensors)


class KeptGraphs:
    """Graphs of forward passes waiting for their backward pass, by token: at most
    `capacity`, the oldest dropped first, safe to use from several threads (XLA may run
    callbacks on its own)."""

    def __init__(self, capacity: int):
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self._graphs: collections.OrderedDict[int, Graph] = collections.OrderedDict()
        self._lock = threading.Lock()
        self._count = 0

    def put(self, graph: Graph) -> int:
        """Keeps `graph`; returns its token, a positive int32."""
        with self._lock:
            self._count = self._count % (2**31 - 1) + 1
            self._graphs[self._count] = graph
            while len(self._graphs) > self.capacity:
                self._graphs.popitem(last=False)
            return self._count

    def pop(self, token: int) -> Graph | None:
        """The graph kept under `token`, no longer kept; None if there is none."""
        with self._lock:
            return self._graphs.pop(token, None)

    def clear(self) -> None:
        with self._lock:
            self._graphs.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._graphs)


KEPT = KeptGraphs(KEEP)


def _arranged(pixels: Any, layout: str) -> Any:
    """(N, R, R) pixels in `layout`."""
    if layout == "NCHW":
        return pixels[:, None]
    if layout == "NHWC":
        return pixels[..., None]
    return pixels


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _logits(function: TorchLogits, images: jax.Array) -> jax.Array:
    shape = jax.ShapeDtypeStruct((*images.shape[:-2], 2), jnp.float32)
    return jax.pure_callback(function.forward, shape, images, vmap_method="broadcast_all")


def _logits_forward(function: TorchLogits, images: jax.Array):
    shapes = (
        jax.ShapeDtypeStruct((*images.shape[:-2], 2), jnp.float32),
        jax.ShapeDtypeStruct(images.shape[:-3], jnp.int32),
    )
    logits, token = jax.pure_callback(
        function.forward_kept, shapes, images, vmap_method="broadcast_all"
    )
    return logits, (token, images)


def _logits_backward(function: TorchLogits, residuals, cotangent: jax.Array):
    token, images = residuals
    shape = jax.ShapeDtypeStruct(images.shape, images.dtype)
    pulled = jax.pure_callback(
        function.vjp_kept, shape, token, images, cotangent, vmap_method="broadcast_all"
    )
    return (pulled,)


_logits.defvjp(_logits_forward, _logits_backward)


def torch_classifier(
    module: Any,
    *,
    device: Any = None,
    input_layout: str = "NCHW",
    input_range: tuple[float, float] = UNIT_RANGE,
) -> Classifier:
    """`module` (a `torch.nn.Module`: float32 images in `input_layout` → logits (N, 2),
    class 1 = self-intersecting) as a Classifier that works under `jax.jit` and
    `jax.grad`. It runs on `device` (the module is moved there) or, by default, where its
    parameters are; it is put in eval mode."""
    torch = import_torch("torch_classifier")
    if not isinstance(module, torch.nn.Module):
        raise ValueError(f"torch_classifier takes a torch.nn.Module, got {type(module).__name__}")
    if input_layout not in LAYOUTS:
        raise ValueError(
            f"input_layout must be one of {sorted(LAYOUTS)} (images (N, R, R) given as "
            f"{', '.join(f'{k}: {v}' for k, v in LAYOUTS.items())}), got {input_layout!r}"
        )
    if device is None:
        device = _device_of(module)
    else:
        device = torch.device(device)
        module.to(device)
    module.eval()
    return Classifier(jax.tree_util.Partial(TorchLogits(module, device, input_layout)), input_range)


def _device_of(module: Any) -> Any:
    """The one device of the module's parameters and buffers (the CPU if it has none)."""
    torch = import_torch("torch_classifier")
    devices = {t.device for t in itertools.chain(module.parameters(), module.buffers())}
    if len(devices) > 1:
        raise ValueError(
            f"the module's parameters are on several devices ({sorted(map(str, devices))}): "
            "move it to one, or pass device="
        )
    return devices.pop() if devices else torch.device("cpu")


def torch_logits_of(classifier: Classifier) -> TorchLogits | None:
    """The PyTorch wrapper inside a Classifier made by `torch_classifier`, else None."""
    function = classifier.logits_fn.func
    return function if isinstance(function, TorchLogits) else None


def with_layout(classifier: Classifier, input_layout: str) -> Classifier:
    """The same PyTorch module given its images in another layout."""
    function = torch_logits_of(classifier)
    if function is None:
        raise ValueError("with_layout takes a Classifier made by torch_classifier")
    if input_layout not in LAYOUTS:
        raise ValueError(f"input_layout must be one of {sorted(LAYOUTS)}, got {input_layout!r}")
    wrapped = TorchLogits(function.module, function.device, input_layout)
    return Classifier(jax.tree_util.Partial(wrapped), classifier.input_range)
