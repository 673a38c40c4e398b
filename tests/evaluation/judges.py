"""Judges shared by the evaluation tests: trained once per session, cached on disk.

Import the fixtures into a test module (``from judges import toy_judge_dir``).
Judges are cached by data checksum and recipe, so a fixture that pytest runs
again (one copy per importing module) loads the cached judge instead of
retraining it.
"""

from __future__ import annotations

import pytest

import toy_plugin
from cganzoo.evaluation import JudgeRecipe, load_or_train_judge

#: A judge recipe small enough for tests on the toy data set (a few seconds).
TINY_RECIPE = JudgeRecipe(channels=(4, 8), features=16, epochs=2, batch_size=32, max_lr=1e-2, min_test_accuracy=0.9)


def quiet(_line: str) -> None:
    pass


@pytest.fixture(scope="session")
def toy_data():
    """The toy plugin's data set (512 train, 100 test images, 1x28x28), as LabelledImages."""
    return toy_plugin.make_toy()


@pytest.fixture(scope="session")
def toy_judge_dir(tmp_path_factory, toy_data):
    """A judge cache root holding the default-recipe judge of the toy data set."""
    root = tmp_path_factory.getbasetemp() / "toy-judge-cache"
    load_or_train_judge(toy_data, cache_root=root, log=quiet)
    return root


@pytest.fixture(scope="session")
def toy_judge(toy_judge_dir, toy_data):
    return load_or_train_judge(toy_data, cache_root=toy_judge_dir, log=quiet)
