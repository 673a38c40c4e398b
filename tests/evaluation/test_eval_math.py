"""The mathematics of the metrics against independent implementations and closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from cganzoo.evaluation import (
    SIGMAS,
    frechet_distance,
    frechet_distance_of,
    gaussian_stats,
    kth_neighbour_radii,
    parzen_log_likelihood,
    parzen_protocol,
    precision_recall,
    select_sigma,
)


def test_frechet_distance_of_diagonal_gaussians_matches_the_closed_form():
    mu1, mu2 = torch.tensor([0.0, 1.0, 2.0]), torch.tensor([1.0, 1.0, 0.0])
    v1, v2 = torch.tensor([1.0, 4.0, 9.0]), torch.tensor([4.0, 1.0, 1.0])
    expected = float((mu1 - mu2).square().sum() + (v1 + v2 - 2 * (v1 * v2).sqrt()).sum())
    assert frechet_distance(mu1, torch.diag(v1), mu2, torch.diag(v2)) == pytest.approx(expected, rel=1e-9)
    assert expected == pytest.approx(5 + 1 + 1 + 4, rel=1e-12)  # 5 from the means; 1, 1, 4 from the variances


def test_frechet_distance_matches_scipy_sqrtm_on_full_covariances():
    scipy_linalg = pytest.importorskip("scipy.linalg")
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(500, 6, generator=gen) @ torch.randn(6, 6, generator=gen)
    b = torch.randn(400, 6, generator=gen) @ torch.randn(6, 6, generator=gen) + 0.5
    mu1, s1 = gaussian_stats(a)
    mu2, s2 = gaussian_stats(b)
    covmean = scipy_linalg.sqrtm(s1.numpy() @ s2.numpy()).real
    expected = float(((mu1 - mu2) ** 2).sum()) + np.trace(s1.numpy()) + np.trace(s2.numpy()) - 2 * np.trace(covmean)
    assert frechet_distance_of(a, b) == pytest.approx(expected, rel=1e-6)
    assert frechet_distance_of(a, a) == pytest.approx(0.0, abs=1e-8)


def test_gaussian_stats_needs_two_rows():
    with pytest.raises(ValueError, match="N >= 2"):
        gaussian_stats(torch.zeros(1, 3))


def test_kth_neighbour_radii_on_points_of_a_line():
    points = torch.tensor([[0.0], [1.0], [3.0], [6.0], [10.0]])
    # neighbours of 0: 1, 3, 6 -> 3rd at distance 6; of 10: 6, 3, 1 -> 9
    assert kth_neighbour_radii(points, k=3).tolist() == pytest.approx([6.0, 5.0, 3.0, 5.0, 9.0])
    assert kth_neighbour_radii(points, k=1).tolist() == pytest.approx([1.0, 1.0, 2.0, 3.0, 4.0])
    with pytest.raises(ValueError):
        kth_neighbour_radii(points, k=5)


def test_precision_recall_of_identical_disjoint_and_nested_sets():
    gen = torch.Generator().manual_seed(1)
    real = torch.randn(300, 4, generator=gen)
    assert precision_recall(real, real.clone()) == (1.0, 1.0)
    far = real + 100.0
    assert precision_recall(real, far) == (0.0, 0.0)
    # Generated images collapsed onto a few real ones: all precise, little recall.
    collapsed = real[:5].repeat(60, 1) + 1e-4 * torch.randn(300, 4, generator=gen)
    precision, recall = precision_recall(real, collapsed)
    assert precision == 1.0 and recall < 0.1


def test_precision_recall_normalize_means_unit_vectors():
    gen = torch.Generator().manual_seed(4)
    real, fake = torch.randn(200, 5, generator=gen) * 3, torch.randn(150, 5, generator=gen) + 1
    unit = lambda x: x / x.norm(dim=1, keepdim=True)
    assert precision_recall(real, fake, normalize=True) == precision_recall(unit(real), unit(fake))
    # Atypical real vectors of one direction but scattered norms have big balls that swallow a
    # small-norm cluster elsewhere; after normalising they shrink to a point.
    e = torch.eye(10)
    real = torch.cat([10 * e[0] + 0.1 * torch.randn(50, 10, generator=gen),
                      torch.stack([2 * e[1], 6 * e[1], 10 * e[1], 14 * e[1]])])
    fake = 0.3 * e[2] + 0.01 * torch.randn(20, 10, generator=gen)
    assert precision_recall(real, fake)[0] == 1.0
    assert precision_recall(real, fake, normalize=True)[0] == 0.0


def naive_precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3) -> tuple[float, float]:
    """Kynkaanniemi et al. 2019, Eq. 1-2, with float64 distances from differences (all pairs at once)."""
    def inside(queries: np.ndarray, centres: np.ndarray) -> float:
        own = np.sqrt(((centres[:, None, :] - centres[None, :, :]) ** 2).sum(2))
        radii = np.sort(own, axis=1)[:, k]  # column 0 is the vector itself
        cross = np.sqrt(((queries[:, None, :] - centres[None, :, :]) ** 2).sum(2))
        return float((cross <= radii[None, :]).any(1).mean())
    return inside(fake, real), inside(real, fake)


def test_precision_recall_matches_a_float64_transcription_of_eq_1():
    gen = torch.Generator().manual_seed(5)
    real = torch.randn(400, 16, generator=gen) * 4 + 2
    fake = torch.randn(300, 16, generator=gen) * 3 + 3
    assert precision_recall(real, fake) == naive_precision_recall(real.double().numpy(), fake.double().numpy())


def test_duplicates_of_real_features_have_precision_and_recall_exactly_one():
    # Each vector 10 times: the k-NN radius is exactly 0, and a duplicate at distance exactly 0
    # counts as inside (Eq. 1's <=). Float32 Gram distances put 12-16% of them outside.
    gen = torch.Generator().manual_seed(6)
    distinct = torch.randn(100, 128, generator=gen) * 5 + 3
    real = distinct.repeat(10, 1)
    fake = real[torch.randperm(1000, generator=gen)]
    assert precision_recall(real, fake) == (1.0, 1.0)
    assert precision_recall(real, fake, normalize=True) == (1.0, 1.0)
    assert precision_recall(real, distinct.clone()) == (1.0, 1.0)
    assert kth_neighbour_radii(real, k=3).eq(0).all()


def test_a_point_at_exactly_the_radius_is_inside():
    # Squared norms near 1e8 are not exact in float32; the decision still is.
    real = torch.tensor([[10000.0], [10001.0], [10003.0], [10006.0], [10010.0]])
    assert kth_neighbour_radii(real, k=3).tolist() == [6.0, 5.0, 3.0, 5.0, 9.0]
    on_the_boundary = torch.tensor([[10019.0], [9994.0], [10015.0], [10016.0]])  # 9 from 10010, 6 from 10000, ...
    just_outside = torch.tensor([[10019.5], [9993.5], [10020.0], [9990.0]])
    assert precision_recall(real, on_the_boundary)[0] == 1.0
    assert precision_recall(real, just_outside)[0] == 0.0


def naive_parzen(x: np.ndarray, mu: np.ndarray, sigma: float) -> np.ndarray:
    """Goodfellow et al.'s theano_parzen, written with numpy broadcasting."""
    a = (x[:, None, :] - mu[None, :, :]) / sigma
    e = -0.5 * (a ** 2).sum(2)
    m = e.max(1)
    log_mean_exp = m + np.log(np.exp(e - m[:, None]).mean(1))
    return log_mean_exp - mu.shape[1] * np.log(sigma * np.sqrt(np.pi * 2))


def test_parzen_matches_the_reference_formula():
    gen = torch.Generator().manual_seed(2)
    samples = torch.rand(200, 50, generator=gen)
    queries = torch.rand(30, 50, generator=gen)
    for sigma in (0.1, 0.3, 1.0):
        ours = parzen_log_likelihood(queries, samples, sigma).numpy()
        ref = naive_parzen(queries.double().numpy(), samples.double().numpy(), sigma)
        np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-3)


def test_parzen_matches_a_float64_transcription_to_1e_8_nats_at_the_smallest_sigma():
    # sigma = 0.1 multiplies squared-distance rounding by 50; float32 distances were off by up to 9e-3 nats.
    gen = torch.Generator().manual_seed(7)
    samples = (torch.rand(300, 784, generator=gen) < 0.2).double() * torch.rand(300, 784, generator=gen).double()
    queries = samples[:40] + 0.05 * torch.randn(40, 784, generator=gen, dtype=torch.float64)
    queries = torch.cat([queries.clamp(0, 1), torch.rand(20, 784, generator=gen, dtype=torch.float64)])
    for sigma in (SIGMAS[0], SIGMAS[4], SIGMAS[-1]):
        ours = parzen_log_likelihood(queries, samples, sigma).numpy()
        ref = naive_parzen(queries.numpy(), samples.numpy(), sigma)
        np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-8)


def test_parzen_sigma_grid_and_selection():
    assert SIGMAS == pytest.approx(tuple(np.logspace(-1, 0, 10)))
    gen = torch.Generator().manual_seed(3)
    samples = torch.rand(300, 20, generator=gen)
    validation = torch.rand(50, 20, generator=gen)
    sigma, lls = select_sigma(samples, validation)
    assert sigma == SIGMAS[int(np.argmax(lls))]
    for s, ll in zip(SIGMAS, lls):
        assert ll == pytest.approx(float(parzen_log_likelihood(validation, samples, s).mean()), rel=1e-9)
    result = parzen_protocol(samples, validation, validation, SIGMAS)
    test_ll = parzen_log_likelihood(validation, samples, sigma)
    assert result["sigma"] == sigma
    assert result["standard_error"] == pytest.approx(float(test_ll.std(unbiased=False)) / math.sqrt(50))
