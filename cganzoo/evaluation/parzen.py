"""Gaussian Parzen-window log-likelihood, the protocol of Goodfellow et al. 2014 and Mirza & Osindero 2014.

Breuleux, Bengio & Vincent 2011 proposed it; Goodfellow et al. 2014 (Sec. 5,
Table 1; ``parzen_ll.py`` of their code) scored GANs with it, and the CGAN
paper's Table 1 reuses it. The protocol, followed step by step:

1. draw 10,000 samples from the model (the CGAN paper: 1,000 per class);
   pixels in ``[0, 1]``, flattened to ``D = 784``;
2. fit an isotropic Gaussian kernel density with width ``sigma`` to them:
   ``log p(x) = log mean_j exp(-||x - s_j||^2 / (2 sigma^2)) - D log(sigma sqrt(2 pi))``;
3. choose ``sigma`` from ``logspace(-1, 0, 10)`` by the mean log-likelihood of
   the first 1,000 images of the validation split (MNIST: training images
   50,000..59,999, i.e. ``train[50000:51000]``);
4. report the mean log-likelihood of the 10,000 test images under that
   density, with standard error ``std(ll) / sqrt(n_test)`` (numpy's ``std``,
   ``ddof=0``, as the reference script computes it), and ``sigma``.

Known weakness (Theis, van den Oord & Bethge 2016, "A note on the evaluation
of generative models", Sec. 3.2): in 784 dimensions the estimate is far from
the true log-likelihood even with 10,000 samples, and it can rank a model
that memorises training images, or one with blurry samples, above a good one.
Read the number as the paper's protocol reproduced, not as a likelihood.

Everything is computed in float64: the squared distances by the Gram
expansion ``||x||^2 + ||s||^2 - 2 x.s`` (clipped at 0), then the log-sum-exp.
At ``sigma = 0.1`` the exponent is ``-50 ||x - s||^2``, so a float32 Gram
expansion's rounding error is multiplied by 50: it reached 9.1e-3 nats at
single points (4.9e-3 on MNIST, 1.6e-4 in the mean) against a float64
transcription of the formula. In float64 the difference is below 1e-8 nats
(``tests/evaluation/test_eval_math.py``); the distances cost about twice the
time of float32 (see ``docs/results.md``).
"""

from __future__ import annotations

import math

import torch

#: The candidate kernel widths of the protocol: ``numpy.logspace(-1, 0, 10)``.
SIGMAS: tuple[float, ...] = tuple(float(s) for s in torch.logspace(-1, 0, 10, dtype=torch.float64))


def _sq_dist(a: torch.Tensor, b: torch.Tensor, b_sq: torch.Tensor) -> torch.Tensor:
    d = a.square().sum(1, keepdim=True) + b_sq - 2 * a @ b.T
    return d.clamp_min_(0)


def _log_likelihoods(queries: torch.Tensor, samples: torch.Tensor, sigmas: tuple[float, ...],
                     block: int = 500) -> torch.Tensor:
    """``(len(sigmas), M)`` float64 log-likelihoods of each query under each kernel width."""
    s = samples.double()
    s_sq = s.square().sum(1)
    n, dim = s.shape
    sig = torch.tensor(sigmas, dtype=torch.float64)
    norm = dim * torch.log(sig * math.sqrt(2 * math.pi)) + math.log(n)
    out = []
    for start in range(0, queries.shape[0], block):
        d = _sq_dist(queries[start:start + block].double(), s, s_sq)  # (b, N)
        rows = [torch.logsumexp(d * (-0.5 / (sigma * sigma)), dim=1) for sigma in sigmas]
        out.append(torch.stack(rows) - norm[:, None])
    return torch.cat(out, dim=1)


def parzen_log_likelihood(queries: torch.Tensor, samples: torch.Tensor, sigma: float) -> torch.Tensor:
    """Log-density of each query under the Parzen window of ``samples`` with width ``sigma``.

    Args:
        queries: float ``(M, D)``.
        samples: float ``(N, D)``, the kernel centres.
        sigma: Kernel standard deviation (pixel units).

    Returns:
        float64 ``(M,)`` log-likelihoods in nats.
    """
    return _log_likelihoods(queries, samples, (float(sigma),))[0]


def select_sigma(samples: torch.Tensor, validation: torch.Tensor,
                 sigmas: tuple[float, ...] = SIGMAS) -> tuple[float, list[float]]:
    """The kernel width with the highest mean validation log-likelihood.

    Returns:
        ``(sigma, mean validation log-likelihood for each candidate)``.
    """
    lls = _log_likelihoods(validation, samples, tuple(sigmas)).mean(dim=1)
    best = int(torch.argmax(lls))
    return float(sigmas[best]), [float(v) for v in lls]


def parzen_protocol(samples: torch.Tensor, validation: torch.Tensor, test: torch.Tensor,
                    sigmas: tuple[float, ...] = SIGMAS) -> dict[str, float | list[float]]:
    """Steps 2-4 of the protocol.

    Args:
        samples: ``(N, D)`` generated images in ``[0, 1]``, flattened.
        validation: ``(V, D)`` validation images in ``[0, 1]``.
        test: ``(M, D)`` test images in ``[0, 1]``.
        sigmas: Candidate widths.

    Returns:
        ``{"log_likelihood": mean, "standard_error": se, "sigma": sigma,
        "validation_log_likelihoods": [...]}``.
    """
    sigma, val_lls = select_sigma(samples, validation, sigmas)
    ll = parzen_log_likelihood(test, samples, sigma)
    se = float(ll.std(unbiased=False)) / math.sqrt(ll.numel())
    return {"log_likelihood": float(ll.mean()), "standard_error": se, "sigma": sigma,
            "validation_log_likelihoods": val_lls}
