"""Frechet distance between Gaussians fitted to two feature sets.

Heusel et al. 2017 (FID), Eq. 6, here in the judge's features rather than
Inception's:

``d^2 = ||mu_1 - mu_2||^2 + tr(S_1) + tr(S_2) - 2 tr((S_1^{1/2} S_2 S_1^{1/2})^{1/2})``

The trace of the matrix square root is computed from the eigenvalues of the
symmetric positive semi-definite ``S_1^{1/2} S_2 S_1^{1/2}`` (``torch.linalg.eigh``
in float64; tiny negative eigenvalues from rounding are clipped to 0), which
equals ``tr((S_1 S_2)^{1/2})`` used by the reference implementations, without
their complex-valued ``sqrtm``.
"""

from __future__ import annotations

import torch


def gaussian_stats(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and unbiased covariance of ``features``.

    Args:
        features: float ``(N, D)`` with ``N >= 2``.

    Returns:
        float64 ``mu (D,)`` and ``sigma (D, D)``.

    Raises:
        ValueError: fewer than 2 rows.
    """
    if features.dim() != 2 or features.shape[0] < 2:
        raise ValueError(f"need features (N, D) with N >= 2, got {tuple(features.shape)}")
    x = features.double()
    mu = x.mean(0)
    centred = x - mu
    sigma = centred.T @ centred / (x.shape[0] - 1)
    return mu, sigma


def _sqrt_psd(matrix: torch.Tensor) -> torch.Tensor:
    values, vectors = torch.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * values.clamp_min(0).sqrt()) @ vectors.T


def frechet_distance(mu1: torch.Tensor, sigma1: torch.Tensor, mu2: torch.Tensor, sigma2: torch.Tensor) -> float:
    """Frechet distance ``d^2`` between ``N(mu1, sigma1)`` and ``N(mu2, sigma2)``.

    Args:
        mu1, mu2: ``(D,)``.
        sigma1, sigma2: ``(D, D)`` symmetric positive semi-definite.

    Returns:
        ``d^2 >= 0`` (squared feature units, as FID reports it).
    """
    mu1, mu2, sigma1, sigma2 = (t.double() for t in (mu1, mu2, sigma1, sigma2))
    root1 = _sqrt_psd(sigma1)
    middle = root1 @ sigma2 @ root1
    eig = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp_min(0)
    trace_sqrt = eig.sqrt().sum()
    value = (mu1 - mu2).square().sum() + torch.trace(sigma1) + torch.trace(sigma2) - 2 * trace_sqrt
    return max(float(value), 0.0)


def frechet_distance_of(features1: torch.Tensor, features2: torch.Tensor) -> float:
    """:func:`frechet_distance` of the Gaussians fitted to two ``(N, D)`` feature sets."""
    return frechet_distance(*gaussian_stats(features1), *gaussian_stats(features2))
