"""Inception-v3 features for FID, KID and Inception Score, through torch-fidelity.

Why torch-fidelity (https://github.com/toshas/torch-fidelity): its Inception-v3
is the TensorFlow graph behind published FID and IS numbers (Heusel et al.
2017's TTUR code, Salimans et al. 2016), converted weight for weight and
checked by its authors to reproduce the TensorFlow values, including TF1's
bilinear resize to 299x299; torchmetrics' FID, KID and IS themselves run
torch-fidelity's extractor. It depends only on numpy, Pillow, scipy, torch,
torchvision and tqdm (no other torch is pulled in).

How an image reaches it (:func:`to_inception_input`):

* generated float images ``(B, C, h, w)`` in ``[-1, 1]`` become uint8
  ``round((x + 1) * 127.5)``, the library's input type; real images are already
  uint8 and go in unchanged (no detour through the generator's size);
* one channel (MNIST, Fashion-MNIST) is replicated to three, as torch-fidelity
  asks of grayscale images; three channels go in as they are;
* the library then resizes to 299x299 (TF1-compatible bilinear) and scales to
  ``[-1, 1]`` inside the network.

Features: ``pool3`` (2048-d, the average pool before the classifier) for FID,
KID and, on request, density/coverage; ``logits_unbiased`` (1008-d) for the
Inception Score, as torch-fidelity's defaults.

Weights cannot be downloaded by cganzoo. :func:`find_weights` looks, in
order, at the path the user gives (the metrics' ``weights`` param), at
``$CGANZOO_INCEPTION_WEIGHTS``, and at torch hub's checkpoint directory
(``$TORCH_HOME/hub/checkpoints``, default ``~/.cache/torch/hub/checkpoints``),
where torch-fidelity itself caches :data:`WEIGHTS_FILE`. When they are absent
the metrics are skipped (:class:`~cganzoo.errors.MetricSkipped`) with one line
giving :data:`WEIGHTS_URL`. A file whose sha256 does not start with the hash in
its official name (``6726825d``) is used, but every value computed with it is
marked as not comparable with published numbers.

The real side (features of the test or training split, FID's mean and
covariance) is computed once per data set and cached (:func:`reference_features`):
``<cache_root>/inception/<dataset>-<data sha256[:12]>-<weights sha256[:12]>-<split>-<n>/``.

Cost: Inception-v3 at 299x299 needs about 5 billion multiply-adds per image
(Szegedy et al. 2016). Measured on the project's shared 2-core CPU (2 threads,
other jobs running): 200 images in 165.7 s, so 10,000 images take about two
hours there; hence the metrics' ``max_samples`` param, and ``device`` (a GPU).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import torch

from cganzoo.errors import EvaluationError, MetricSkipped
from cganzoo.evaluation.images import check_unit_range
from cganzoo.interfaces import LabelledImages

if TYPE_CHECKING:
    from cganzoo.evaluation.context import EvaluationContext
from cganzoo.io import atomic_directory, dumps_json, file_sha256, write_synced

#: torch-fidelity's file name for the converted TF Inception-v3 (2015-12-05) weights.
WEIGHTS_FILE = "weights-inception-2015-12-05-6726825d.pth"
#: Where torch-fidelity downloads them from.
WEIGHTS_URL = "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/" + WEIGHTS_FILE
#: The official file's sha256 starts with this (torch hub's naming convention).
WEIGHTS_SHA256_PREFIX = "6726825d"
#: Environment variable naming a weights file.
WEIGHTS_ENV = "CGANZOO_INCEPTION_WEIGHTS"
#: Side of the square images the network sees.
INPUT_SIZE = 299
#: Feature names in torch-fidelity's extractor, and their widths.
POOL_FEATURES, LOGIT_FEATURES = "2048", "logits_unbiased"
POOL_DIM, LOGIT_DIM = 2048, 1008
#: Bumped when the way features are computed changes (it is part of the cache key).
CODE_VERSION = 1
_FORMAT = "cganzoo-inception-reference"


def install_hint() -> str:
    """The one line that says how to get the weights."""
    return (f"download {WEIGHTS_URL} on a machine with a network (e.g. curl -LO URL) and put it in "
            f"{default_weights_path().parent} or name it with {WEIGHTS_ENV}=PATH or the metric param weights=PATH")


def default_weights_path() -> Path:
    """``<torch hub dir>/checkpoints/`` :data:`WEIGHTS_FILE`, where torch-fidelity caches its download."""
    return Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_FILE


def find_weights(path: str | Path | None = None) -> Path:
    """The Inception weights file to use.

    Args:
        path: A file the user names; it must exist. ``None``: ``$CGANZOO_INCEPTION_WEIGHTS``
            if set, else :func:`default_weights_path`.

    Raises:
        MetricSkipped: the file is absent (the message says how to get it).
    """
    if path is None and os.environ.get(WEIGHTS_ENV):
        path = os.environ[WEIGHTS_ENV]
    candidate = Path(path).expanduser() if path is not None else default_weights_path()
    if not candidate.is_file():
        raise MetricSkipped(f"Inception weights not found at {str(candidate)!r}; {install_hint()}")
    return candidate


def require_library() -> Any:
    """Import torch-fidelity.

    Raises:
        MetricSkipped: it is not installed (the message gives the pip command).
    """
    try:
        import torch_fidelity  # noqa: F401
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
    except ImportError:
        raise MetricSkipped("the Inception metrics need torch-fidelity: pip install 'cganzoo[inception]'") from None
    return FeatureExtractorInceptionV3


def library_version() -> str:
    import torch_fidelity

    return str(getattr(torch_fidelity, "__version__", "unknown"))


def to_inception_input(images: torch.Tensor) -> torch.Tensor:
    """Images as torch-fidelity's Inception takes them: uint8 ``(B, 3, h, w)`` in ``[0, 255]``.

    Args:
        images: float ``(B, C, h, w)`` in ``[-1, 1]`` (a generator's output) or
            uint8 ``(B, C, h, w)`` (real data); ``C`` is 1 or 3.

    Returns:
        uint8 ``(B, 3, h, w)``: floats as ``round((x + 1) * 127.5)``, one channel
        replicated to three. The size is left to the library (299x299).

    Raises:
        EvaluationError: float images outside ``[-1, 1]``, or a channel count other than 1 or 3.
    """
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise EvaluationError(f"Inception takes images (B, 1 or 3, H, W), got {tuple(images.shape)}")
    if images.dtype != torch.uint8:
        check_unit_range(images, what="generated images")
        images = images.float().add(1.0).mul_(127.5).round_().clamp_(0, 255).to(torch.uint8)
    if images.shape[1] == 1:
        images = images.expand(-1, 3, -1, -1)
    return images.contiguous()


class InceptionExtractor:
    """torch-fidelity's Inception-v3 with weights from a file, and what identifies it.

    Args:
        weights: The weights file (torch-fidelity's format, a state dict).
        device: Where the network runs.

    Raises:
        MetricSkipped: torch-fidelity is not installed.
        EvaluationError: the file is not a state dict of that network.
    """

    def __init__(self, weights: str | Path, device: torch.device | str = "cpu") -> None:
        extractor_class = require_library()
        self.path = Path(weights)
        self.weights_sha256 = file_sha256(self.path)
        self.standard = self.weights_sha256.startswith(WEIGHTS_SHA256_PREFIX)
        try:
            # weights_only=True first: a file that passes holds tensors only, so the library's own load
            # of the same bytes cannot run code either.
            torch.load(self.path, map_location="cpu", weights_only=True)
            self.net = extractor_class("inception-v3-compat", [POOL_FEATURES, LOGIT_FEATURES],
                                       feature_extractor_weights_path=str(self.path))
        except Exception as exc:  # noqa: BLE001 - unpickling and state-dict errors have many types
            raise EvaluationError(f"Inception weights {str(self.path)!r} are not torch-fidelity's Inception-v3 "
                                  f"state dict: {' '.join(str(exc).split())[:300]}") from None
        self.device = torch.device(device)
        self.net.to(self.device).eval()

    @torch.no_grad()
    def __call__(self, images: torch.Tensor, batch_size: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
        """Features of ``images``.

        Args:
            images: See :func:`to_inception_input`.
            batch_size: Images per forward pass.

        Returns:
            float32 ``pool3 (N, 2048)`` and ``logits_unbiased (N, 1008)``, on the CPU.
        """
        pools, logits = [], []
        for chunk in images.split(batch_size):
            pool, logit = self.net(to_inception_input(chunk).to(self.device))
            pools.append(pool.float().cpu())
            logits.append(logit.float().cpu())
        if not pools:
            return torch.zeros(0, POOL_DIM), torch.zeros(0, LOGIT_DIM)
        return torch.cat(pools), torch.cat(logits)

    def describe(self) -> dict[str, Any]:
        """The extractor's part of a metric's protocol."""
        return {"library": f"torch-fidelity {library_version()}", "network": "Inception-v3 (TF 2015-12-05 graph)",
                "weights_sha256": self.weights_sha256, "standard_weights": self.standard,
                "input": f"uint8 RGB (grayscale replicated), resized by the library to {INPUT_SIZE}x{INPUT_SIZE} "
                         "(TF1-compatible bilinear); generated [-1, 1] images as round((x + 1) * 127.5)"}


def balanced_subset(labels: torch.Tensor, n: int | None) -> torch.Tensor:
    """Indices of ``n`` images taken round-robin over classes (class-balanced to within one image).

    Args:
        labels: int64 ``(N,)``.
        n: How many; ``None`` or ``>= N``: all, in their original order.

    Returns:
        int64 indices ``(min(n, N),)``: the first image of every class, then the
        second of every class, ... Deterministic, no randomness.
    """
    total = labels.numel()
    if n is None or n >= total:
        return torch.arange(total)
    order = torch.argsort(labels, stable=True)
    sorted_labels = labels[order]
    # Rank of each image within its class: position minus where its class starts.
    starts = torch.searchsorted(sorted_labels, sorted_labels, side="left")
    rank = torch.arange(total) - starts
    key = rank * (int(labels.max()) + 1) + sorted_labels
    return order[torch.argsort(key, stable=True)[:n]]


@dataclass
class ReferenceFeatures:
    """Inception features of real images, and FID's real-side statistics.

    Attributes:
        pool: float32 ``(N, 2048)``.
        logits: float32 ``(N, 1008)``.
        mu: float32 ``(2048,)`` and sigma: float64 ``(2048, 2048)``, as
            torch-fidelity's ``fid_features_to_statistics`` defines them
            (mean, and ``numpy.cov``: unbiased).
        record: What ``reference.json`` holds (data set, checksums, split, count, seconds).
    """

    pool: torch.Tensor
    logits: torch.Tensor
    mu: torch.Tensor
    sigma: torch.Tensor
    record: dict[str, Any]


def fid_statistics(pool: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """FID's ``(mu, sigma)`` of pool3 features, through torch-fidelity's ``fid_features_to_statistics``."""
    require_library()
    from torch_fidelity.metric_fid import fid_features_to_statistics

    stats = fid_features_to_statistics(pool.float().cpu())
    return torch.from_numpy(stats["mu"]), torch.from_numpy(stats["sigma"])


def reference_cache_dir(cache_root: Path, dataset: str, data_sha256: str, weights_sha256: str, split: str,
                        n: int) -> Path:
    """``<cache_root>/inception/<dataset>-<data sha[:12]>-<weights sha[:12]>-<split>-<n>``."""
    return Path(cache_root) / "inception" / f"{dataset}-{data_sha256[:12]}-{weights_sha256[:12]}-{split}-{n}"


def reference_features(extractor: InceptionExtractor, data: LabelledImages, split: str, max_samples: int | None,
                       cache_root: Path, *, batch_size: int = 64,
                       log: Callable[[str], None] = print) -> ReferenceFeatures:
    """Inception features and FID statistics of a real split: from the cache, or computed once and cached.

    Args:
        extractor: The Inception network.
        data: The data set (uint8 images).
        split: ``"test"`` or ``"train"``.
        max_samples: Class-balanced subset size (:func:`balanced_subset`); ``None``: the whole split.
        cache_root: Cache root (the data cache).
        batch_size: Images per forward pass.
        log: Receives progress lines.

    Raises:
        EvaluationError: no such split.
    """
    from cganzoo.evaluation.judge import dataset_checksum, require_test_split

    if split == "test":
        images, labels = require_test_split(data)
    elif split == "train":
        images, labels = data.images, data.labels
    else:
        raise EvaluationError(f"real_split must be 'test' or 'train', got {split!r}")
    index = balanced_subset(labels, max_samples)
    data_sha = dataset_checksum(data)
    directory = reference_cache_dir(cache_root, data.info.name, data_sha, extractor.weights_sha256, split,
                                    index.numel())
    cached = _load_reference(directory)
    if cached is not None:
        return cached
    log(f"inception: computing features of {index.numel()} real {split} images of {data.info.name!r} once "
        f"(cached in {directory})")
    start = time.perf_counter()
    pool, logits = extractor(images[index], batch_size=batch_size)
    mu, sigma = fid_statistics(pool)
    record = {"format": _FORMAT, "version": CODE_VERSION, "dataset": data.info.name, "data_sha256": data_sha,
              "split": split, "num_images": int(index.numel()),
              "selection": "whole split" if index.numel() == labels.numel() else "class-balanced round-robin subset",
              "weights_sha256": extractor.weights_sha256, "library": f"torch-fidelity {library_version()}",
              "seconds": round(time.perf_counter() - start, 1)}
    reference = ReferenceFeatures(pool, logits, mu, sigma, record)
    _save_reference(reference, directory, log)
    return reference


def _save_reference(reference: ReferenceFeatures, directory: Path, log: Callable[[str], None]) -> None:
    from safetensors.torch import save as safetensors_bytes

    blob = safetensors_bytes({"pool": reference.pool.contiguous(), "logits": reference.logits.contiguous(),
                              "mu": reference.mu.contiguous(), "sigma": reference.sigma.contiguous()})
    record = {**reference.record, "features_sha256": hashlib.sha256(blob).hexdigest()}
    try:
        directory.parent.mkdir(parents=True, exist_ok=True)
        with atomic_directory(directory) as tmp:
            write_synced(tmp / "features.safetensors", blob)
            write_synced(tmp / "reference.json", (dumps_json(record, indent=2) + "\n").encode("utf-8"))
    except OSError as exc:
        log(f"inception: could not cache the reference features in {directory} ({exc}); continuing without")
        return
    reference.record = record


def _load_reference(directory: Path) -> ReferenceFeatures | None:
    """A cached entry whose files match their recorded checksum, else ``None`` (it will be rebuilt)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        record = json.loads((directory / "reference.json").read_text(encoding="utf-8"))
        if record.get("format") != _FORMAT or record.get("version") != CODE_VERSION:
            return None
        if file_sha256(directory / "features.safetensors") != record["features_sha256"]:
            return None
        tensors = load_file(directory / "features.safetensors")
        return ReferenceFeatures(tensors["pool"], tensors["logits"], tensors["mu"], tensors["sigma"], record)
    except (OSError, ValueError, KeyError, SafetensorError):
        return None


def context_extractor(context: "EvaluationContext", weights: str | Path | None = None) -> InceptionExtractor:
    """The evaluation's Inception network (loaded once per evaluation and weights file).

    Raises:
        MetricSkipped: torch-fidelity or the weights are absent.
        EvaluationError: the weights file is not the network's state dict.
    """
    require_library()
    path = find_weights(weights)
    return context.shared(("inception-extractor", str(path.resolve())),
                          lambda: InceptionExtractor(path, context.device))


def context_generated(context: "EvaluationContext", extractor: InceptionExtractor, max_samples: int | None,
                      batch_size: int = 64) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(pool (n, 2048), logits (n, 1008), labels (n,))`` of the generated images, shared by the metrics.

    ``n`` is ``max_samples`` images taken class-balanced (:func:`balanced_subset`), or all of them.
    """
    images, labels = context.images("generated")
    index = balanced_subset(labels, max_samples)

    def compute() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        pool, logits = extractor(images[index], batch_size=batch_size)
        return pool, logits, labels[index]

    return context.shared(("inception-generated", extractor.weights_sha256, index.numel()), compute)


def context_reference(context: "EvaluationContext", extractor: InceptionExtractor, split: str,
                      max_samples: int | None, batch_size: int = 64) -> ReferenceFeatures:
    """:func:`reference_features` of the context's data, cached on disk and within the evaluation.

    Progress lines go to the context's ``log``.
    """
    return context.shared(
        ("inception-reference", extractor.weights_sha256, split, max_samples),
        lambda: reference_features(extractor, context.data, split, max_samples, context.resolved_cache_root(),
                                   batch_size=batch_size, log=context.log))


def inception_protocol(context: "EvaluationContext", extractor: InceptionExtractor, num_generated: int,
                       reference: ReferenceFeatures | None = None) -> dict[str, Any]:
    """The shared protocol of the Inception metrics (no judge)."""
    record = {**context.protocol(judge=False), "inception": extractor.describe(),
              "num_generated_used": num_generated}
    if reference is not None:
        record["real"] = {k: reference.record[k] for k in ("split", "num_images", "selection", "data_sha256")}
    return record


def inception_notes(extractor: InceptionExtractor) -> list[str]:
    """Caveats every Inception value carries."""
    notes = []
    if not extractor.standard:
        notes.append(f"the Inception weights (sha256 {extractor.weights_sha256[:12]}...) are not torch-fidelity's "
                     f"official {WEIGHTS_FILE}: values are not comparable with published ones")
    return notes


__all__ = [
    "INPUT_SIZE",
    "WEIGHTS_ENV",
    "WEIGHTS_FILE",
    "WEIGHTS_URL",
    "InceptionExtractor",
    "ReferenceFeatures",
    "balanced_subset",
    "context_extractor",
    "context_generated",
    "context_reference",
    "inception_notes",
    "inception_protocol",
    "default_weights_path",
    "fid_statistics",
    "find_weights",
    "install_hint",
    "reference_cache_dir",
    "reference_features",
    "require_library",
    "to_inception_input",
]
