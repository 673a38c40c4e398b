"""`cganzoo eval --data-dir` with other data than the run was trained on (an image folder)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from cganzoo.cli import main


def _folder(root, classes, seed, n=12):
    rng = np.random.default_rng(seed)
    for name in classes:
        (root / name).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 255, (28, 28, 3), dtype=np.uint8)).save(root / name / f"{i}.png")
    return root


def test_other_classes_are_refused_in_one_line_and_other_content_is_a_warning(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CGANZOO_DATA_DIR", str(tmp_path / "cache"))
    two = _folder(tmp_path / "two", ["a", "b"], seed=0)
    run = tmp_path / "run"
    assert main(["run", "cdcgan", "--dataset", "imagefolder", "--data-dir", str(two), "--max-steps", "2",
                 "--batch-size", "8", "--device", "cpu", "--out", str(run), "--no-progress"]) == 0
    capsys.readouterr()

    three = _folder(tmp_path / "three", ["a", "b", "c"], seed=1)
    assert main(["eval", str(run), "--per-class", "4", "--data-dir", str(three)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (f"cganzoo: error: run {str(run)!r} was trained on data set 'imagefolder' with num_classes 2, "
                       "but the data to evaluate against has 3; evaluate with the run's own data (omit --data-dir) "
                       "or with data of the same classes and image shape")

    renamed = _folder(tmp_path / "renamed", ["a", "zz"], seed=0)
    assert main(["eval", str(run), "--per-class", "4", "--data-dir", str(renamed)]) == 2
    assert "with class_names ['a', 'b']" in capsys.readouterr().err

    changed = _folder(tmp_path / "changed", ["a", "b"], seed=2)
    assert main(["eval", str(run), "--per-class", "4", "--data-dir", str(changed)]) == 0
    out = capsys.readouterr()
    assert "other content than it was trained on" in out.out + out.err

    assert main(["eval", str(run), "--per-class", "4"]) == 0  # the run's own data: no warning
    out = capsys.readouterr()
    assert "other content" not in out.out + out.err
