"""Density and coverage, Naeem et al. 2020, "Reliable Fidelity and Diversity Metrics for Generative Models", Sec. 3.

With real feature vectors ``X_1..X_N``, generated ones ``Y_1..Y_M``, and
``B(X_i, NND_k(X_i))`` the ball around ``X_i`` whose radius is the distance to
its ``k``-th nearest real neighbour (``X_i`` itself excluded):

* density  = ``1 / (k M) * sum_j sum_i 1[Y_j in B(X_i, NND_k(X_i))]`` (Eq. 3):
  how many real-sample neighbourhoods each generated sample falls in, on
  average, divided by ``k``. About 1 when both sets come from one distribution;
  it exceeds 1 when samples crowd into dense real regions, unlike precision.
* coverage = ``1 / N * sum_i 1[exists j: Y_j in B(X_i, NND_k(X_i))]`` (Eq. 4):
  the fraction of real neighbourhoods that hold at least one generated
  sample, in ``[0, 1]``.

Only real-sample balls are used, so an outlying generated sample cannot
inflate either value (the weakness of precision/recall the paper addresses).
The paper uses ``k = 5``. A point at exactly the radius counts as inside
(``<=``), as in :mod:`~cganzoo.evaluation.precision_recall`; the authors' code
(the ``prdc`` package) uses ``<``, which differs only on exact ties.

Distances are Euclidean, in float64, each computed from its pair of vectors
(not by the Gram-matrix expansion, whose rounding would let a duplicate or a
point at exactly the radius fall either side), in blocks of rows (the
``M x N`` matrix is never held whole). Measured on one CPU thread: about 20 s
for 10,000 real and 10,000 generated 128-d judge features; in Inception's
2,048 dimensions about ten minutes, small next to computing those features.
"""

from __future__ import annotations

import torch


def _sq_dist64(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    # Each distance from its own pair of vectors (no Gram-matrix expansion, whose rounding depends on the
    # block): a generated vector equal to a real one, or at exactly a radius, is then judged exactly.
    return torch.cdist(a, b, compute_mode="donot_use_mm_for_euclid_dist").square_()


def real_radii(real: torch.Tensor, k: int = 5, block: int = 1024) -> torch.Tensor:
    """Squared distance from each real vector to its ``k``-th nearest real neighbour (itself excluded).

    Args:
        real: float ``(N, D)``, ``N > k``.
        k: Which neighbour.
        block: Rows per distance block.

    Returns:
        float64 ``(N,)`` squared radii.

    Raises:
        ValueError: ``N <= k`` or ``k < 1``.
    """
    n = real.shape[0]
    if k < 1 or n <= k:
        raise ValueError(f"need more than k={k} real vectors (and k >= 1), got {n}")
    x = real.double()
    out = []
    for start in range(0, n, block):
        d = _sq_dist64(x[start:start + block], x)
        out.append(d.topk(k + 1, dim=1, largest=False).values[:, k])  # the smallest is the vector itself
    return torch.cat(out)


def density_coverage(real: torch.Tensor, generated: torch.Tensor, k: int = 5,
                     block: int = 1024) -> tuple[float, float]:
    """Density and coverage of ``generated`` against ``real`` (Naeem et al. 2020, Eq. 3 and 4).

    Args:
        real: float ``(N, D)`` features of real images, ``N > k``.
        generated: float ``(M, D)`` features of generated images, ``M >= 1``.
        k: Neighbourhood size (the paper's 5).
        block: Generated rows per distance block.

    Returns:
        ``(density, coverage)``: density in ``[0, N / k]`` (about 1 for matching
        distributions), coverage in ``[0, 1]``.

    Raises:
        ValueError: too few real vectors for ``k``, no generated vectors, or feature widths that differ.
    """
    if generated.dim() != 2 or generated.shape[0] < 1 or real.dim() != 2 or generated.shape[1] != real.shape[1]:
        raise ValueError(f"need real (N, D) and generated (M >= 1, D) features, got {tuple(real.shape)} and "
                         f"{tuple(generated.shape)}")
    radii = real_radii(real, k, block)
    x, y = real.double(), generated.double()
    inside_count = 0
    covered = torch.zeros(x.shape[0], dtype=torch.bool)
    for start in range(0, y.shape[0], block):
        inside = _sq_dist64(y[start:start + block], x) <= radii  # (m, N): Y_j inside the ball of X_i
        inside_count += int(inside.sum())
        covered |= inside.any(dim=0)
    density = inside_count / (k * y.shape[0])
    coverage = float(covered.double().mean())
    return density, coverage


__all__ = ["density_coverage", "real_radii"]
