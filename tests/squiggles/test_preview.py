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


def test_grid_titles_fit_and_say_how_many_are_shown_of_how_many():
    images = {"simple": np.zeros((3, 16, 16)), "intersecting": np.zeros((2, 16, 16))}
    title = "/runs/" + "a_long_directory_name/" * 8 + " on Taylor(order=7, t_min=-3.0, t_max=3.0)"
    figure = preview.draw_class_grids(images, title=title, totals={"simple": 3, "intersecting": 90})
    figure.canvas.draw()
    width, height = figure.canvas.get_width_height()
    renderer = figure.canvas.get_renderer()
    titles = [figure._suptitle] + [panel._suptitle for panel in figure.subfigs]
    assert [t.get_text().replace("\n", " ") for t in titles[1:]] == [
        "simple: 3 shown of 3",
        "intersecting: 2 shown of 90",
    ]
    for text in titles:
        box = text.get_window_extent(renderer)
        assert box.x0 >= 0 and box.x1 <= width and box.y1 <= height, text.get_text()
    assert "".join(titles[0].get_text().split()) == "".join(title.split())  # all of it
    plain = preview.draw_class_grids(images)
    assert [panel._suptitle.get_text() for panel in plain.subfigs] == [
        "simple (3)",
        "intersecting (2)",
    ]


def test_corruption_preview_shows_one_curve_under_every_corruption(tmp_path, capsys):
    from squiggles import corruptions
    from squiggles.corruptions import picture

    grid, label = picture.corruption_grid(squiggles.Taylor(), 6, resolution=24)
    assert grid.shape == (len(corruptions.CORRUPTIONS), 6, 24, 24) and label
    made = corruptions.corrupted_examples(squiggles.Taylor(), "occlusion", 4, 1, start=6,
                                          resolution=24)  # fmt: skip
    np.testing.assert_array_equal(
        grid[corruptions.CORRUPTIONS.index("occlusion"), 4], made.image[0]
    )
    np.testing.assert_array_equal(grid[0, 0], grid[-1, 0])  # column 0 is the clean image
    out = tmp_path / "c.png"
    preview.main(["--corruptions", "--resolution", "24", "--out", str(out)])
    assert f"wrote {out}" in capsys.readouterr().out
    assert Image.open(out).size[1] > Image.open(out).size[0]  # a row per corruption
