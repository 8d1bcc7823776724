import jax
import jax.numpy as jnp
import pytest

from experiments.training.resnet import ResNet, parameter_count


def resnet_parameter_count(stage_sizes, width, stem="imagenet", in_channels=1, classes=2) -> int:
    """Counted from the architecture: a 7×7 (imagenet) or 3×3 (small) stem convolution and
    3×3 convolutions without bias, BatchNorm scale and offset, 1×1 projection shortcuts where
    the shape changes, a dense head."""
    kernel = {"imagenet": 7, "small": 3}[stem]
    count = kernel * kernel * in_channels * width + 2 * width  # stem conv + BN
    channels = width
    for stage, blocks in enumerate(stage_sizes):
        features = width * 2**stage
        for block in range(blocks):
            count += 9 * channels * features + 2 * features  # conv1 + bn1
            count += 9 * features * features + 2 * features  # conv2 + bn2
            if channels != features or (stage > 0 and block == 0):
                count += channels * features + 2 * features  # shortcut conv + bn
            channels = features
    return count + channels * classes + classes


def test_resnet34_parameter_count():
    assert parameter_count(ResNet(), 60) == resnet_parameter_count((3, 4, 6, 3), 64) == 21_279_426


def test_parameter_count_of_the_tiny_model_by_hand_and_by_initialisation():
    # stem 3·3·1·4 + 2·4 = 44; stage 0 (4 → 4): 2 × (9·4·4 + 2·4) = 304; stage 1 (4 → 8):
    # 9·4·8 + 16 + 9·8·8 + 16 + 1·4·8 + 16 (shortcut) = 944; head 8·2 + 2 = 18.
    model = ResNet(stage_sizes=(1, 1), width=4, stem="small")
    variables = model.init(jax.random.key(0), jnp.zeros((1, 16, 16)))
    initialised = sum(x.size for x in jax.tree.leaves(variables["params"]))
    assert parameter_count(model, 16) == initialised == 44 + 304 + 944 + 18 == 1310
    assert resnet_parameter_count((1, 1), 4, stem="small") == 1310
    # Batch statistics are state, not parameters.
    assert sum(x.size for x in jax.tree.leaves(variables["batch_stats"])) > 0


def test_parameter_count_does_not_depend_on_the_resolution():
    model = ResNet(stage_sizes=(1, 1), width=4, stem="imagenet")
    assert parameter_count(model, 16) == parameter_count(model, 60)
    assert parameter_count(model, 16) == resnet_parameter_count((1, 1), 4)


@pytest.mark.parametrize("stem", ["imagenet", "small"])
def test_logits_shape_for_both_stems(stem):
    model = ResNet(stage_sizes=(1, 1), width=4, stem=stem)
    variables = model.init(jax.random.key(0), jnp.zeros((1, 20, 20)))
    logits = model.apply(variables, jnp.ones((3, 20, 20, 1)))
    assert logits.shape == (3, 2)


def test_unknown_stem_is_rejected():
    with pytest.raises(ValueError, match="unknown stem 'tiny'"):
        ResNet(stem="tiny").init(jax.random.key(0), jnp.zeros((1, 20, 20)))


def test_bfloat16_computes_in_bfloat16_with_float32_parameters_and_logits():
    images = jax.random.uniform(jax.random.key(0), (4, 16, 16))
    wide = ResNet(stage_sizes=(1, 1), width=8)
    narrow = ResNet(stage_sizes=(1, 1), width=8, dtype=jnp.bfloat16)
    variables = wide.init(jax.random.key(1), images)
    assert jax.tree.structure(narrow.init(jax.random.key(1), images)) == jax.tree.structure(
        variables
    )
    assert {leaf.dtype for leaf in jax.tree.leaves(narrow.init(jax.random.key(1), images))} == {
        jnp.dtype(jnp.float32)
    }
    _, state = narrow.apply(variables, images, train=True, mutable=["batch_stats"])
    assert {leaf.dtype for leaf in jax.tree.leaves(state)} == {jnp.dtype(jnp.float32)}
    full, half = wide.apply(variables, images), narrow.apply(variables, images)
    assert half.dtype == jnp.float32 and full.shape == half.shape == (4, 2)
    assert not jnp.array_equal(full, half)  # computed in bfloat16: 8 bits of mantissa
    assert jnp.allclose(full, half, atol=0.05)
    text = jax.jit(lambda v, x: narrow.apply(v, x)).lower(variables, images).as_text()
    assert "bf16" in text and "convolution" in text
