"""The first numbers of each family's streams, stored: every dataset is made from
these latents, so a JAX release (or a change here) that alters the random numbers
fails this test instead of silently making other data. Measured with JAX 0.10.2
(threefry2x32, seed 0); see the README for the versions that give identical data."""

import numpy as np
import pytest

import squiggles

INDICES = [0, 1, 1_000_000]

# The first four numbers of latents 0, 1 and 1,000,000 of each (family, stream),
# flattened: Taylor's a_1..a_4; SineNet's (a, b, ω, φ) of its first term.
GOLDEN = {
    ("taylor", 0): [
        [-0.43456006, 0.57619452, -0.20483303, 0.84724641],
        [-0.79141927, -0.31202483, -0.73786545, 0.62026119],
        [-0.18856668, -0.82933998, -0.99533796, 0.49446607],
    ],
    ("taylor", 1): [
        [0.15766478, -0.55880523, -0.79187322, -0.3186233],
        [-0.81832814, -0.27558398, 0.24321389, -0.68314719],
        [-0.47832799, -0.55271506, 0.87640023, -0.28224444],
    ],
    ("taylor", 2): [
        [-0.86229801, -0.61046696, -0.50020099, -0.049003839],
        [0.49137402, -0.30991316, 0.50043249, -0.4636333],
        [0.14443231, -0.52719617, 0.53455663, 0.23324919],
    ],
    ("sine_net", 0): [
        [-1.4629117, -0.35172847, -0.16139522, 0.51901507],
        [-2.1361759, 0.98550111, -0.35760459, 5.3815088],
        [-0.0018525692, -0.36203042, 1.0507346, 1.3649119],
    ],
    ("sine_net", 1): [
        [0.31906828, -0.30166864, -0.91291279, 4.4695101],
        [-1.8768121, -1.4965796, 0.25256515, 6.1993093],
        [2.1391895, -0.90334713, 1.3717643, 3.5735469],
    ],
    ("sine_net", 2): [
        [-0.035501029, 0.082556382, -2.6216233, 5.2567897],
        [-0.042667873, 0.43604538, -1.5931536, 3.4214835],
        [0.95774472, 2.6939456, -0.31379694, 4.671845],
    ],
}


@pytest.mark.parametrize(("family", "stream"), sorted(GOLDEN))
def test_the_first_latents_of_every_stream_are_the_stored_numbers(family, stream):
    latents = squiggles.sample_latents_at(
        squiggles.family_from_name(family), INDICES, seed=0, stream=stream
    )
    first = np.asarray(latents).reshape(len(INDICES), -1)[:, :4]
    # Eight significant digits stored; a changed random number differs in the first.
    np.testing.assert_allclose(first, GOLDEN[family, stream], rtol=1e-6, atol=1e-8)
