import numpy as np

import squiggles


def test_quantize_round_trip():
    images = np.array([[0.0, 1.0], [0.5, 0.2]], np.float32)
    stored = squiggles.quantize(images)
    assert stored.shape == (2, 2, 1) and stored.dtype == np.uint8
    np.testing.assert_array_equal(stored[..., 0], [[0, 255], [128, 51]])
    assert np.abs(squiggles.dequantize(stored) - images).max() <= 1 / 510 + 1e-6


def test_dequantize_gives_float32_images_without_the_channel_axis():
    back = squiggles.dequantize(np.full((3, 4, 4, 1), 255, np.uint8))
    assert back.dtype == np.float32 and back.shape == (3, 4, 4) and (back == 1).all()
