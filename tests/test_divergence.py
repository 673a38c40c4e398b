"""The device-side loss window and the finiteness checks behind TrainingDivergedError."""

from __future__ import annotations

import torch

from cganzoo.training.nonfinite import LossWindow, first_bad_loss, first_non_finite


def test_the_window_records_reads_grows_and_restores():
    window = LossWindow(2, "cpu")
    for step in range(1, 4):  # one more than its capacity: it grows
        window.record(torch.tensor(float(step)), torch.tensor(-float(step)))
    assert len(window) == 3
    assert window.read().tolist() == [[1.0, -1.0], [2.0, -2.0], [3.0, -3.0]]
    other = LossWindow(1, "cpu")
    other.load(window.state())
    assert torch.equal(other.read(), window.read())
    window.clear()
    assert len(window) == 0 and window.read().shape == (0, 2)


def test_the_first_bad_loss_is_named_with_its_step_and_component():
    losses = torch.tensor([[0.5, 0.7], [0.5, float("inf")], [float("nan"), float("nan")]], dtype=torch.float64)
    assert first_bad_loss(losses, last_step=12) == "generator loss became inf at step 11"
    assert first_bad_loss(losses[2:], last_step=12) == (
        "discriminator loss became nan and the generator loss became nan at step 12")
    assert first_bad_loss(losses[:1], last_step=10) is None


def test_first_non_finite_names_the_tensor_and_skips_integers():
    named = [("a", torch.ones(3)), ("steps", torch.tensor([2**40])), ("b", torch.tensor([1.0, float("-inf")]))]
    assert first_non_finite(named) == "b"
    assert first_non_finite(named[:2]) is None
    assert first_non_finite([]) is None
