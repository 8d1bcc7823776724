import numpy as np
import pytest
from PIL import Image

import squiggles
from squiggles import preview


def test_examples_per_class_returns_the_first_of_each_class():
    family = squiggles.Taylor()
    images = preview.examples_per_class(family, 3, seed=4, resolution=16)
    assert set(images) == {"simple", "intersecting"}
    first = squiggles.generate_examples(family, 200, seed=4, resolution=16)
    for label, name in enumerate(preview.CLASS_NAMES):
        expected = np.asarray(first.image)[first.label == bool(label)][:3]
        np.testing.assert_array_equal(images[name], expected)


def test_command_writes_a_png(tmp_path, capsys):
    out = tmp_path / "grid.png"
    preview.main(["--family", "sine_net", "--width", "25", "--per-class", "4", "--out", str(out)])
    assert f"wrote {out}" in capsys.readouterr().out
    with Image.open(out) as picture:
        assert picture.format == "PNG" and picture.width > picture.height > 100


def test_command_reports_bad_input_clearly(tmp_path):
    with pytest.raises(SystemExit, match="directory .* does not exist"):
        preview.main(["--out", str(tmp_path / "missing" / "grid.png"), "--per-class", "1"])
    with pytest.raises(SystemExit, match="order must be an integer >= 1, got 0"):
        preview.main(["--order", "0", "--out", str(tmp_path / "g.png")])
