from __future__ import annotations

import pytest
import torch

from cganzoo import DatasetInfo, LabelledImages, check_labels
from cganzoo.errors import LabelError


def test_valid_labels_pass():
    y = torch.tensor([0, 9, 3])
    assert check_labels(y, 10) is y


@pytest.mark.parametrize("labels, message", [
    (torch.tensor([0, 10]), r"label 10 at position 1 is outside \[0, 10\)"),
    (torch.tensor([-1, 2]), r"label -1 at position 0 is outside"),
    (torch.tensor([1.0, 2.0]), r"must be an integer tensor \(any integer dtype, used as int64\), got dtype torch.float32"),
    (torch.tensor([[1, 2]]), r"must have shape \(B,\)"),
    ([1, 2], r"must be a torch.Tensor"),
])
def test_bad_labels_are_named(labels, message):
    with pytest.raises(LabelError, match=message):
        check_labels(labels, 10, source="test")


def test_dataset_labels_are_checked_where_they_enter():
    info = DatasetInfo("d", 3, ("a", "b", "c"), (1, 4, 4))
    with pytest.raises(LabelError, match=r"d train split: label 3 at position 1"):
        LabelledImages(torch.zeros(2, 1, 4, 4, dtype=torch.uint8), torch.tensor([0, 3]), info)
    with pytest.raises(ValueError, match="uint8"):
        LabelledImages(torch.zeros(2, 1, 4, 4), torch.tensor([0, 1]), info)
