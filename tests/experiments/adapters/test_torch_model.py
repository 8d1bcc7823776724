"""The PyTorch adapter: a module's logits and input gradients reach JAX unchanged, eagerly,
under jit, in a jitted loop and under vmap, in each input layout; a gradient runs the
forward pass once, from a bounded cache of graphs that never changes a result; wrong
modules are named."""

import threading

import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from experiments.adapters.torch_model import (  # noqa: E402
    KEEP,
    KEPT,
    KeptGraphs,
    TorchLogits,
    torch_classifier,
    torch_logits_of,
    with_layout,
)

R = 12


class TinyCNN(torch.nn.Module):
    """Images (N, 1, R, R) → logits (N, 2), with BatchNorm and Dropout so that training
    mode would give other (and random) logits."""

    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 4, 3, padding=1)
        self.norm = torch.nn.BatchNorm2d(4)
        self.conv2 = torch.nn.Conv2d(4, 6, 3, stride=2)
        self.drop = torch.nn.Dropout(0.5)
        self.head = torch.nn.Linear(6, 2)

    def forward(self, images):
        hidden = torch.tanh(self.norm(self.conv1(images)))
        hidden = torch.tanh(self.conv2(hidden)).mean(dim=(2, 3))
        return self.head(self.drop(hidden))


class Relaid(torch.nn.Module):
    """The same network taking its images in another layout."""

    def __init__(self, network, layout):
        super().__init__()
        self.network, self.layout = network, layout

    def forward(self, images):
        if self.layout == "NHW":
            return self.network(images[:, None])
        return self.network(images.permute(0, 3, 1, 2))  # NHWC


@pytest.fixture(scope="module")
def network():
    torch.manual_seed(0)
    module = TinyCNN()
    with torch.no_grad():  # running statistics other than BatchNorm's initial ones
        module.norm.running_mean.uniform_(-0.5, 0.5)
        module.norm.running_var.uniform_(0.5, 2.0)
    return module.eval()


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).random((5, R, R), dtype=np.float32)


def torch_logits(network, images):
    with torch.no_grad():
        return network.eval()(torch.tensor(images)[:, None]).numpy()


def loss(model, images, labels):
    """A sum of a loss of the logits, as the attacks differentiate."""
    log_p = jax.nn.log_softmax(model(images))
    return -jnp.sum(jnp.take_along_axis(log_p, labels[:, None], axis=1))


def torch_gradient(network, images, labels):
    pixels = torch.tensor(images, requires_grad=True)
    log_p = torch.log_softmax(network.eval()(pixels[:, None]), dim=1)
    value = -log_p.gather(1, torch.tensor(labels)[:, None]).sum()
    return torch.autograd.grad(value, pixels)[0].numpy()


LABELS = np.array([0, 1, 1, 0, 1])


def test_the_logits_are_the_modules_own_eagerly_and_under_jit(network, images):
    model = torch_classifier(network)
    expected = torch_logits(network, images)
    np.testing.assert_allclose(np.asarray(model(images)), expected, rtol=1e-6, atol=1e-6)
    jitted = jax.jit(lambda model, images: model(images))(model, jnp.asarray(images))
    np.testing.assert_allclose(np.asarray(jitted), expected, rtol=1e-6, atol=1e-6)
    assert jitted.dtype == jnp.float32 and jitted.shape == (5, 2)


def test_the_module_is_put_in_eval_mode_and_kept_there(network, images):
    network.train()
    model = torch_classifier(network)
    assert not network.training
    network.train()  # set back after wrapping: the adapter still evaluates
    first, second = np.asarray(model(images)), np.asarray(model(images))
    np.testing.assert_array_equal(first, second)
    np.testing.assert_allclose(first, torch_logits(network, images), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("jit", [False, True])
def test_input_gradients_are_torch_autograds(network, images, jit):
    gradient = jax.grad(loss, argnums=1)
    if jit:
        gradient = jax.jit(gradient)
    found = np.asarray(gradient(torch_classifier(network), jnp.asarray(images), LABELS))
    expected = torch_gradient(network, images, LABELS)
    assert np.abs(expected).max() > 1e-4  # a real gradient, not zeros
    np.testing.assert_allclose(found, expected, rtol=1e-5, atol=1e-7)


def test_a_jitted_attack_loop_takes_the_same_steps_as_torch(network, images):
    """Signed-gradient steps in a lax.fori_loop, as the attacks run them, against the same
    steps computed with torch directly."""

    @jax.jit
    def attack(model, images):
        def step(_, x):
            return jnp.clip(x + 0.05 * jnp.sign(jax.grad(loss, 1)(model, x, LABELS)), 0, 1)

        return jax.lax.fori_loop(0, 3, step, images)

    found = np.asarray(attack(torch_classifier(network), jnp.asarray(images)))
    expected = images.copy()
    for _ in range(3):
        expected = np.clip(
            expected + 0.05 * np.sign(torch_gradient(network, expected, LABELS)), 0, 1
        )
    np.testing.assert_allclose(found, expected, atol=1e-6)
    assert np.abs(found - images).max() > 0.1


@pytest.mark.parametrize("layout", ["NHW", "NHWC"])
def test_each_layout_gives_the_module_its_images_as_it_takes_them(network, images, layout):
    model = torch_classifier(Relaid(network, layout), input_layout=layout)
    np.testing.assert_allclose(
        np.asarray(model(images)), torch_logits(network, images), rtol=1e-6, atol=1e-6
    )
    found = jax.jit(jax.grad(loss, argnums=1))(model, jnp.asarray(images), LABELS)
    np.testing.assert_allclose(
        np.asarray(found), torch_gradient(network, images, LABELS), rtol=1e-5, atol=1e-7
    )
    assert torch_logits_of(model).input_layout == layout
    again = with_layout(model, "NCHW")  # the NCHW network's layout, given to the wrapper
    with pytest.raises(ValueError, match="input_layout='NCHW'"):
        again(images)


def test_vmap_folds_its_axis_into_one_batch(network, images):
    model = torch_classifier(network)
    stacked = np.stack([images, 1 - images])
    found = jax.jit(jax.vmap(model))(jnp.asarray(stacked))
    assert found.shape == (2, 5, 2)
    np.testing.assert_allclose(np.asarray(found[1]), torch_logits(network, 1 - images), atol=1e-6)


def test_the_module_is_static_and_one_compilation_serves_two_wrappers(network, images):
    traced = []

    @jax.jit
    def logits(model, images):
        traced.append(1)
        return model(images)

    first, second = torch_classifier(network), torch_classifier(network)
    assert jax.tree_util.tree_leaves(first) == []  # no weights traced by JAX
    assert jax.tree_util.tree_structure(first) == jax.tree_util.tree_structure(second)
    logits(first, jnp.asarray(images))
    logits(second, jnp.asarray(images))
    assert len(traced) == 1
    logits(torch_classifier(TinyCNN()), jnp.asarray(images))  # another module
    assert len(traced) == 2


def test_the_device_is_the_parameters_own(network):
    model = torch_classifier(network)
    assert torch_logits_of(model).device == torch.device("cpu")
    assert torch_logits_of(torch_classifier(network, device="cpu")).device.type == "cpu"
    mixed = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2, device="meta"))
    with pytest.raises(ValueError, match=r"several devices \(\['cpu', 'meta'\]\)"):
        torch_classifier(mixed)


class Outputs(torch.nn.Module):
    def __init__(self, make):
        super().__init__()
        self.make = make

    def forward(self, images):
        return self.make(images)


@pytest.mark.parametrize(
    "make, seen",
    [
        (lambda x: torch.zeros(len(x), 3), r"torch.float32 of shape \(1, 3\)"),
        (lambda x: torch.zeros(len(x)), r"torch.float32 of shape \(1,\)"),
        (lambda x: torch.zeros(len(x), 2, dtype=torch.int64), "torch.int64 of shape"),
        (lambda x: (torch.zeros(len(x), 2),), "got tuple"),
    ],
)
def test_a_module_with_other_outputs_is_refused_when_traced(images, make, seen):
    model = torch_classifier(Outputs(make))
    for call in (model, jax.jit(model)):
        with pytest.raises(ValueError, match=seen) as error:
            call(images)
        assert "(N, 2)" in str(error.value)


def test_a_module_refusing_the_layout_is_named(network, images):
    model = torch_classifier(network, input_layout="NHWC")
    with pytest.raises(ValueError, match=r"failed on a float32 tensor of shape \(1, 12, 12, 1\)"):
        jax.jit(model)(images)
    with pytest.raises(ValueError, match=r"takes images \(N, R, R\), got shape \(12, 12\)"):
        model(images[0])


def test_what_is_not_a_module_or_a_layout_is_refused(network):
    with pytest.raises(ValueError, match="takes a torch.nn.Module, got function"):
        torch_classifier(lambda x: x)
    with pytest.raises(ValueError, match=r"input_layout must be one of \['NCHW', 'NHW', 'NHWC'\]"):
        torch_classifier(network, input_layout="CHW")
    assert isinstance(torch_classifier(network).logits_fn.func, TorchLogits)


# The graphs kept between a gradient's forward and backward callbacks.


@pytest.fixture
def forwards(network):
    """The batch sizes of the network's forward passes from now on; nothing kept before."""
    model = torch_classifier(network)
    model(np.zeros((1, R, R), np.float32))  # runs the probe of the image shape now
    KEPT.clear()
    sizes = []
    handle = network.register_forward_pre_hook(lambda module, args: sizes.append(len(args[0])))
    yield model, sizes
    handle.remove()
    KEPT.clear()


def torch_pullback(network, images, cotangent):
    pixels = torch.tensor(images, requires_grad=True)
    logits = network.eval()(pixels[:, None])
    return torch.autograd.grad(logits, pixels, grad_outputs=torch.tensor(cotangent))[0].numpy()


COTANGENT = np.random.default_rng(1).normal(size=(5, 2)).astype(np.float32)


@pytest.mark.parametrize("jit", [False, True])
def test_a_gradient_runs_the_forward_pass_once_and_keeps_nothing(network, images, forwards, jit):
    model, sizes = forwards
    gradient = jax.grad(loss, argnums=1)
    if jit:
        gradient = jax.jit(gradient)
    found = gradient(model, jnp.asarray(images), LABELS)
    assert sizes == [5] and len(KEPT) == 0
    jax.jit(lambda model, images: model(images))(model, jnp.asarray(images))  # logits alone
    assert sizes == [5, 5] and len(KEPT) == 0
    np.testing.assert_allclose(
        np.asarray(found), torch_gradient(network, images, LABELS), rtol=1e-5, atol=1e-7
    )


def test_the_kept_graph_and_a_new_one_give_the_same_gradient(network, images, forwards):
    model, sizes = forwards
    x = jnp.asarray(images)
    _, pullback = jax.vjp(model, x)
    assert len(KEPT) == 1
    (kept,) = pullback(jnp.asarray(COTANGENT))
    assert sizes == [5] and len(KEPT) == 0  # the backward pass alone
    _, pullback = jax.vjp(model, x)
    KEPT.clear()  # as if dropped: the backward callback runs the forward pass again
    (remade,) = pullback(jnp.asarray(COTANGENT))
    assert sizes == [5, 5, 5]
    np.testing.assert_array_equal(np.asarray(kept), np.asarray(remade))
    expected = torch_pullback(network, images, COTANGENT)
    assert np.abs(expected).max() > 1e-4
    np.testing.assert_allclose(np.asarray(kept), expected, rtol=1e-5, atol=1e-7)


def test_two_batches_in_flight_each_get_their_own_gradient(network, images, forwards):
    model, sizes = forwards
    other = np.ascontiguousarray(images[::-1] ** 2)
    first, first_pullback = jax.vjp(model, jnp.asarray(images))
    second, second_pullback = jax.vjp(model, jnp.asarray(other))
    (second_gradient,) = second_pullback(jnp.asarray(-COTANGENT))  # in reverse order
    (first_gradient,) = first_pullback(jnp.asarray(COTANGENT))
    assert sizes == [5, 5] and len(KEPT) == 0  # both from their kept graphs
    np.testing.assert_allclose(np.asarray(first), torch_logits(network, images), atol=1e-6)
    np.testing.assert_allclose(np.asarray(second), torch_logits(network, other), atol=1e-6)
    for found, batch, cotangent in [(first_gradient, images, COTANGENT),
                                    (second_gradient, other, -COTANGENT)]:  # fmt: skip
        np.testing.assert_allclose(
            np.asarray(found), torch_pullback(network, batch, cotangent), rtol=1e-5, atol=1e-7
        )


def test_forwards_without_backwards_keep_at_most_KEEP_graphs(network, images, forwards):
    model, sizes = forwards
    scales = np.linspace(0.4, 1.0, 3 * KEEP, dtype=np.float32)
    pullbacks = [jax.vjp(model, jnp.asarray(scale * images))[1] for scale in scales]
    assert len(KEPT) == KEEP == KEPT.capacity
    (oldest,) = pullbacks[0](jnp.asarray(COTANGENT))  # dropped: made again, still right
    assert len(sizes) == 3 * KEEP + 1 and len(KEPT) == KEEP
    (newest,) = pullbacks[-1](jnp.asarray(COTANGENT))  # kept
    assert len(sizes) == 3 * KEEP + 1 and len(KEPT) == KEEP - 1
    for found, scale in [(oldest, scales[0]), (newest, scales[-1])]:
        np.testing.assert_allclose(
            np.asarray(found), torch_pullback(network, scale * images, COTANGENT),
            rtol=1e-5, atol=1e-7,
        )  # fmt: skip


def test_a_graph_of_other_images_or_an_older_module_is_not_used(images):
    torch.manual_seed(1)
    network = TinyCNN().eval()
    function = torch_logits_of(torch_classifier(network))
    KEPT.clear()
    _, token = function.forward_kept(images[::-1])  # a token naming another batch's graph
    found = function.vjp_kept(token, images, COTANGENT)
    before = torch_pullback(network, images, COTANGENT)
    np.testing.assert_allclose(found, before, rtol=1e-6)
    _, token = function.forward_kept(images)
    with torch.no_grad():  # the module changed in place between forward and backward
        network.head.weight.mul_(-2)
    found = function.vjp_kept(token, images, COTANGENT)
    assert len(KEPT) == 0
    np.testing.assert_allclose(found, torch_pullback(network, images, COTANGENT), rtol=1e-6)
    assert not np.allclose(found, before, rtol=0.1)  # the kept graph's would be wrong


def test_vmapped_gradients_and_jacobians_are_torchs(network, images):
    model = torch_classifier(network)
    stacked = np.stack([images, 1 - images])
    gradients = jax.jit(jax.vmap(jax.grad(loss, 1), in_axes=(None, 0, None)))(
        model, jnp.asarray(stacked), LABELS
    )
    for found, batch in zip(gradients, stacked, strict=True):
        np.testing.assert_allclose(
            np.asarray(found), torch_gradient(network, batch, LABELS), rtol=1e-5, atol=1e-7
        )
    # vmap over the cotangents of one forward pass: its images broadcast, a new graph
    jacobian = jax.jacrev(lambda x: model(x)[:, 1])(jnp.asarray(images[:2]))
    expected = torch.autograd.functional.jacobian(
        lambda x: network(x[:, None])[:, 1], torch.tensor(images[:2])
    )
    assert jacobian.shape == (2, 2, R, R) and len(KEPT) == 0
    np.testing.assert_allclose(np.asarray(jacobian), expected.numpy(), rtol=1e-5, atol=1e-7)


def test_the_cache_is_bounded_and_its_tokens_distinct_across_threads():
    kept = KeptGraphs(5)
    tokens = [[] for _ in range(4)]

    def put(mine):
        for index in range(200):
            mine.append(kept.put(index))

    threads = [threading.Thread(target=put, args=(mine,)) for mine in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [token for mine in tokens for token in mine]
    assert len(set(every)) == 800 and min(every) >= 1 and len(kept) == 5
    newest = max(every)
    assert kept.pop(newest) is not None and kept.pop(newest) is None and len(kept) == 4
    assert kept.pop(min(every)) is None  # the oldest were dropped
    with pytest.raises(ValueError, match="capacity must be >= 1, got 0"):
        KeptGraphs(0)
