import jax
import jax.numpy as jnp
import pytest

from experiments.models import ResNet


def resnet_parameter_count(stage_sizes, width, in_channels=1, classes=2) -> int:
    """Counted from the architecture: 3×3 convolutions without bias, BatchNorm scale
    and offset, 1×1 projection shortcuts where the shape changes, a dense head."""
    count = 7 * 7 * in_channels * width + 2 * width  # stem conv + BN
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
    variables = ResNet().init(jax.random.key(0), jnp.zeros((1, 60, 60)))
    count = sum(x.size for x in jax.tree.leaves(variables["params"]))
    assert count == resnet_parameter_count((3, 4, 6, 3), 64) == 21_279_426


@pytest.mark.parametrize("stem", ["imagenet", "small"])
def test_logits_shape_for_both_stems(stem):
    model = ResNet(stage_sizes=(1, 1), width=4, stem=stem)
    variables = model.init(jax.random.key(0), jnp.zeros((1, 20, 20)))
    logits = model.apply(variables, jnp.ones((3, 20, 20, 1)))
    assert logits.shape == (3, 2)


def test_unknown_stem_is_rejected():
    with pytest.raises(ValueError, match="unknown stem 'tiny'"):
        ResNet(stem="tiny").init(jax.random.key(0), jnp.zeros((1, 20, 20)))
