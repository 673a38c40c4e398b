"""The judge: a small CNN classifier trained on the real training split, used as feature extractor.

Inception-based FID needs downloaded weights, and Inception features fit 28x28
digits poorly. Like TF-GAN's MNIST score (``tfgan.eval.mnist_score``), every
judge-based metric here uses a classifier the project trains itself on the real
data.

Shipped judges. The same recipe and data give other weights on another CPU
(other SIMD kernels round differently), so a judge trained on first use makes
numbers that compare only within one machine. Like TF-GAN, which ships its
MNIST classifier, cganzoo ships reference judges for MNIST and Fashion-MNIST in
the package (:data:`SHIPPED_JUDGES_DIR`: ``<dataset>.safetensors`` and
``<dataset>.json``, made by :mod:`cganzoo.evaluation.make_reference_judges`;
the record names the command, torch version and CPU). They are used whenever
the data's checksum (:func:`dataset_checksum`, not the data set's name) and the
recipe match a shipped record; their weights are checked against the recorded
sha256 on every load, and a damaged file is an error, not a silent retraining.
Every judge-based metric records ``"source": "shipped"`` or ``"local"``.

Local judges. For any other data or recipe the judge is trained once per
(data set, recipe) and cached:

``<cache_root>/judges/<dataset>-<data sha256[:12]>-<recipe sha256[:12]>/``
    ``judge.safetensors`` (weights) and ``judge.json`` (recipe, data checksum,
    test accuracy, sha256 of the weights file), both written atomically.

``cache_root`` is the run's ``data_dir`` if it has one, else
:func:`cganzoo.data.default_cache_dir`. The key covers the data set's bytes
(train and test images and labels) and the training recipe, so a changed
recipe or data set trains a new judge instead of reusing a stale one. A cached
judge is re-checked against its recorded sha256 before use; a damaged one is
retrained.

The recipe depends on the data: a data set's :class:`DatasetInfo` may carry
``judge_recipe`` overrides (Fashion-MNIST's required accuracy is 0.88, not
MNIST's 0.99; see :func:`recipe_for`), and ``judge.json`` records the recipe
used. A judge whose test accuracy falls below the recipe's
``min_test_accuracy`` is kept and cached, but marked unreliable
(``"reliable": false``): every metric that reads it then carries a note
saying so, and the evaluation report lists those metrics, instead of the
evaluation being refused.

Architecture (recipe defaults): ``Conv 5x5 (c1) -> ReLU -> MaxPool 2 ->
Conv 5x5 (c2) -> ReLU -> MaxPool 2 -> Linear (features) -> ReLU -> Linear
(num_classes)``. The *features* are the ``features``-wide output of ``fc1``
before its ReLU: the role Inception's pool3 layer plays in FID. The
pre-activation is used because images far from the data (noise, blank
images) drive the post-ReLU values towards 0, where they all collapse onto
one point.
"""

from __future__ import annotations

import hashlib
import json
import time
from importlib import resources
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from safetensors import SafetensorError
from safetensors.torch import load_file
from safetensors.torch import load as safetensors_load
from safetensors.torch import save as safetensors_bytes
from torch import nn

from cganzoo.errors import EvaluationError
from cganzoo.evaluation.images import to_judge_input, uint8_to_unit_range
from cganzoo.interfaces import LabelledImages
from cganzoo.io import atomic_directory, atomic_write_bytes, dumps_json, file_sha256, make_dirs, write_synced

#: Bumped when the training code changes in a way the recipe does not capture.
JUDGE_CODE_VERSION = 2
_FORMAT = "cganzoo-judge"
#: Name of the feature layer recorded with every judge-based metric.
FEATURE_LAYER = "fc1 pre-activation (the linear outputs feeding the last ReLU)"
#: The reference judges shipped in the package: ``<dataset>.safetensors`` and ``<dataset>.json``.
SHIPPED_JUDGES_DIR = Path(__file__).resolve().parent / "judges"
#: What a report says about a judge trained on this machine.
LOCAL_JUDGE_NOTE = ("local judge: trained on this machine (no shipped judge matches this data set and recipe); "
                    "judge-based numbers compare only with runs that used this same judge (weights sha256)")


class JudgeRecipe(BaseModel):
    """How a judge is trained; its hash is part of the cache key.

    The defaults reached 99.30% test accuracy on MNIST in 4 epochs, 76-78 s of
    CPU time (one thread) on the project's 2-core machine; smaller variants
    measured there: channels (8, 16) for 3 epochs 99.05%, for 6 epochs 99.21%.
    ``docs/results.md`` gives the accuracy of the judge behind its numbers.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    channels: tuple[int, int] = Field((16, 32), description="Output channels of the two 5x5 convolutions.")
    features: int = Field(128, ge=2, description="Width of the feature layer fc1.")
    epochs: int = Field(4, ge=1, description="Passes over the training split.")
    batch_size: int = Field(128, ge=1, description="Images per step.")
    max_lr: float = Field(3e-3, gt=0, description="Peak Adam learning rate of the one-cycle schedule.")
    seed: int = Field(0, ge=0, description="Seeds initialisation and shuffling.")
    min_test_accuracy: float = Field(0.99, ge=0, le=1, description="Refuse a judge below this test accuracy.")

    def digest(self) -> str:
        """sha256 of the recipe and :data:`JUDGE_CODE_VERSION` (hex)."""
        text = json.dumps({"recipe": self.model_dump(mode="json"), "code": JUDGE_CODE_VERSION}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()


class JudgeNet(nn.Module):
    """The judge CNN.

    Args:
        in_shape: Input ``(C, H, W)``; ``H`` and ``W`` at least 4.
        num_classes: Output logits.
        channels: Channels of the two convolutions.
        features: Width of the feature layer.

    Shapes:
        ``x (B, C, H, W)`` float in ``[-1, 1]`` -> logits ``(B, num_classes)``;
        :meth:`features` -> ``(B, features)``, real-valued (before the ReLU).
    """

    def __init__(self, in_shape: tuple[int, int, int], num_classes: int, channels: tuple[int, int] = (16, 32),
                 features: int = 128) -> None:
        super().__init__()
        c, h, w = in_shape
        c1, c2 = channels
        self.conv = nn.Sequential(
            nn.Conv2d(c, c1, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(),
        )
        self.fc1 = nn.Linear(c2 * (h // 4) * (w // 4), features)
        self.fc2 = nn.Linear(features, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc1(self.conv(x))

    def logits_from_features(self, features: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.relu(features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits_from_features(self.features(x))


@dataclass
class Judge:
    """A trained judge classifier and its record.

    Attributes:
        net: The CNN, in eval mode.
        record: What ``judge.json`` holds: ``recipe``, ``recipe_sha256``,
            ``dataset``, ``data_sha256``, ``input_shape``, ``num_classes``,
            ``test_accuracy``, ``weights_sha256``, ``feature_layer``,
            ``feature_dim``, ``train_seconds``.
        path: The cache directory it was loaded from or saved to, or the
            shipped weights file.
        source: ``"shipped"`` (a reference judge from the package: the same
            weights on every machine) or ``"local"`` (trained on this
            machine; another CPU gives other weights).
    """

    net: JudgeNet
    record: dict[str, Any]
    path: Path | None = None
    source: str = "local"

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(self.record["input_shape"])

    @property
    def checksum(self) -> str:
        """sha256 of the weights file: names this exact judge in every metric's protocol."""
        return self.record["weights_sha256"]

    @property
    def test_accuracy(self) -> float:
        return float(self.record["test_accuracy"])

    @property
    def required_accuracy(self) -> float:
        """The recipe's ``min_test_accuracy``."""
        return float(self.record.get("recipe", {}).get("min_test_accuracy", 0.0))

    @property
    def reliable(self) -> bool:
        """Whether the judge reached its recipe's required test accuracy."""
        return bool(self.record.get("reliable", True))  # judges cached before this field were all reliable

    def describe(self) -> dict[str, Any]:
        """The judge's part of a metric's protocol.

        ``source`` says whether the numbers compare across machines:
        ``"shipped"`` (with ``file``, the shipped weights' name) or ``"local"``
        (with ``note``, :data:`LOCAL_JUDGE_NOTE`).
        """
        keys = ("weights_sha256", "recipe_sha256", "data_sha256", "test_accuracy", "feature_layer", "feature_dim")
        where = {"file": self.record.get("file")} if self.source == "shipped" else {"note": LOCAL_JUDGE_NOTE}
        return {"source": self.source, **where, **{k: self.record[k] for k in keys},
                "required_test_accuracy": self.required_accuracy, "reliable": self.reliable}

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """Generated float images in ``[-1, 1]`` (any size) or real uint8 images -> judge input.

        Raises:
            EvaluationError: float images outside ``[-1, 1]``, or a channel count
                other than the judge's.
        """
        if images.dim() != 4 or images.shape[1] != self.input_shape[0]:
            raise EvaluationError(
                f"the judge takes images (B, {self.input_shape[0]}, H, W), got {tuple(images.shape)}"
            )
        return to_judge_input(images, self.input_shape[1:])

    @torch.no_grad()
    def run(self, images: torch.Tensor, batch_size: int = 1000) -> tuple[torch.Tensor, torch.Tensor]:
        """Features and logits of ``images``.

        Args:
            images: float ``(N, C, h, w)`` in ``[-1, 1]`` or uint8 ``(N, C, h, w)``.
            batch_size: Images per forward pass.

        Returns:
            ``(features, logits)``: float32 ``(N, feature_dim)`` and ``(N, num_classes)``, on the CPU.

        Raises:
            EvaluationError: see :meth:`prepare`.
        """
        device = next(self.net.parameters()).device
        self.net.eval()
        feats, logits = [], []
        for chunk in images.split(batch_size):
            x = self.prepare(chunk.to(device))
            f = self.net.features(x)
            feats.append(f.float().cpu())
            logits.append(self.net.logits_from_features(f).float().cpu())
        if not feats:
            return torch.zeros(0, self.record["feature_dim"]), torch.zeros(0, self.record["num_classes"])
        return torch.cat(feats), torch.cat(logits)


def recipe_for(data: LabelledImages) -> JudgeRecipe:
    """The judge recipe of ``data``: :class:`JudgeRecipe` defaults with the data set's ``judge_recipe`` overrides.

    Raises:
        EvaluationError: the data set's overrides are not valid recipe fields.
    """
    overrides = getattr(data.info, "judge_recipe", None) or {}
    try:
        return JudgeRecipe(**overrides)
    except ValueError as exc:
        raise EvaluationError(f"data set {data.info.name!r} declares an invalid judge recipe {overrides!r}: "
                              f"{' '.join(str(exc).split())}") from None


def dataset_checksum(data: LabelledImages) -> str:
    """sha256 over the train and test images and labels (bytes, shapes and dtypes)."""
    h = hashlib.sha256()
    for name, tensor in (("train_images", data.images), ("train_labels", data.labels),
                         ("test_images", data.test_images), ("test_labels", data.test_labels)):
        if tensor is None:
            h.update(f"{name}:none;".encode())
            continue
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)};".encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


def judge_cache_dir(cache_root: Path, dataset: str, data_sha256: str, recipe: JudgeRecipe) -> Path:
    """``<cache_root>/judges/<dataset>-<data sha[:12]>-<recipe sha[:12]>``."""
    return Path(cache_root) / "judges" / f"{dataset}-{data_sha256[:12]}-{recipe.digest()[:12]}"


def require_test_split(data: LabelledImages) -> tuple[torch.Tensor, torch.Tensor]:
    """The held-out split, or an error naming the data set.

    Raises:
        EvaluationError: the data set has no ``test_images``/``test_labels``.
    """
    if data.test_images is None or data.test_labels is None:
        raise EvaluationError(
            f"data set {data.info.name!r} has no test split (LabelledImages.test_images); evaluation "
            "compares generated images with held-out real ones"
        )
    return data.test_images, data.test_labels


@torch.no_grad()
def _accuracy(net: JudgeNet, images: torch.Tensor, labels: torch.Tensor, device: torch.device) -> float:
    net.eval()
    correct = 0
    for x, y in zip(images.split(1000), labels.split(1000)):
        pred = net(uint8_to_unit_range(x).to(device)).argmax(1).cpu()
        correct += int((pred == y).sum())
    return correct / max(1, labels.numel())


def train_judge(data: LabelledImages, recipe: JudgeRecipe | None = None, *, device: torch.device | str = "cpu",
                log: Callable[[str], None] = print) -> Judge:
    """Train a judge on ``data``'s training split and measure it on its test split.

    Adam with a one-cycle learning-rate schedule (peak ``recipe.max_lr``),
    cross-entropy, no augmentation. Randomness comes from ``recipe.seed`` only,
    and the global RNG state is restored afterwards.

    Args:
        data: Images uint8 ``(N, C, H, W)``; needs a test split.
        recipe: Training recipe (default :class:`JudgeRecipe`).
        device: Where to train.
        log: Receives one line per epoch.

    Returns:
        The judge (not yet cached; see :func:`load_or_train_judge`).

    A test accuracy below ``recipe.min_test_accuracy`` is logged and recorded
    (``record["reliable"] = False``), not raised: the report then says which
    metrics are unreliable.

    Raises:
        EvaluationError: no test split.
    """
    recipe = recipe or recipe_for(data)
    test_images, test_labels = require_test_split(data)
    device = torch.device(device)
    shape = tuple(data.images.shape[1:])
    start = time.perf_counter()
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(recipe.seed)
        net = JudgeNet(shape, data.info.num_classes, recipe.channels, recipe.features).to(device)
        images, labels = data.images.to(device), data.labels.to(device)
        n = images.shape[0]
        steps_per_epoch = max(1, n // recipe.batch_size)
        opt = torch.optim.Adam(net.parameters(), lr=recipe.max_lr)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=recipe.max_lr,
                                                    total_steps=steps_per_epoch * recipe.epochs)
        shuffle = torch.Generator().manual_seed(recipe.seed)
        for epoch in range(recipe.epochs):
            net.train()
            perm = torch.randperm(n, generator=shuffle).to(device)
            total = 0.0
            for i in range(steps_per_epoch):
                idx = perm[i * recipe.batch_size:(i + 1) * recipe.batch_size]
                loss = F.cross_entropy(net(uint8_to_unit_range(images[idx])), labels[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                total += float(loss.detach())
            log(f"judge: epoch {epoch + 1}/{recipe.epochs}, train loss {total / steps_per_epoch:.4f}, "
                f"{time.perf_counter() - start:.0f} s")
    accuracy = _accuracy(net, test_images, test_labels, device)
    seconds = time.perf_counter() - start
    log(f"judge: test accuracy {accuracy:.4f} on {test_labels.numel()} images after {seconds:.0f} s")
    reliable = accuracy >= recipe.min_test_accuracy
    if not reliable:
        log(f"judge: the judge trained on {data.info.name!r} reached test accuracy {accuracy:.4f}, below the required "
            f"{recipe.min_test_accuracy}; metrics that read it will be reported as unreliable")
    net.eval()
    record = {
        "format": _FORMAT, "version": JUDGE_CODE_VERSION,
        "recipe": recipe.model_dump(mode="json"), "recipe_sha256": recipe.digest(),
        "dataset": data.info.name, "data_sha256": dataset_checksum(data),
        "input_shape": list(shape), "num_classes": data.info.num_classes,
        "train_size": int(images.shape[0]), "test_size": int(test_labels.numel()),
        "test_accuracy": accuracy, "reliable": reliable, "feature_layer": FEATURE_LAYER, "feature_dim": recipe.features,
        "train_seconds": round(seconds, 1), "torch": torch.__version__,
    }
    return Judge(net, record)


def save_judge(judge: Judge, directory: Path) -> Path:
    """Write ``judge.safetensors`` and ``judge.json`` into ``directory`` atomically.

    The files are assembled in a temporary sibling directory and renamed into
    place; a concurrent writer that finished first wins (its judge was trained
    from the same recipe and data).

    Returns:
        ``directory``. ``judge.record["weights_sha256"]`` and ``judge.path`` are set.
    """
    directory = Path(directory)
    blob = _weights_bytes(judge.net)
    judge.record["weights_sha256"] = hashlib.sha256(blob).hexdigest()
    try:
        # replace: an existing entry is a damaged one (a complete one would have been loaded).
        with atomic_directory(directory) as tmp:
            write_synced(tmp / "judge.safetensors", blob)
            write_synced(tmp / "judge.json", (dumps_json(judge.record, indent=2) + "\n").encode("utf-8"))
    except OSError:
        if not (directory / "judge.json").is_file():
            raise
        # Another process finished the same judge (same recipe and data) first.
    judge.path = directory
    return directory


def load_judge(directory: Path, device: torch.device | str = "cpu") -> Judge:
    """Load a cached judge, verifying its weights against the recorded sha256.

    Raises:
        EvaluationError: files missing, unreadable, or the checksum does not match.
    """
    directory = Path(directory)
    try:
        record = json.loads((directory / "judge.json").read_text(encoding="utf-8"))
        if record.get("format") != _FORMAT or record.get("version") != JUDGE_CODE_VERSION:
            raise ValueError(f"format {record.get('format')!r} version {record.get('version')!r}")
        weights = directory / "judge.safetensors"
        digest = file_sha256(weights)
        if digest != record["weights_sha256"]:
            raise ValueError(f"weights sha256 {digest[:12]}... does not match the recorded "
                             f"{record['weights_sha256'][:12]}...")
        recipe = JudgeRecipe.model_validate(record["recipe"])
        net = JudgeNet(tuple(record["input_shape"]), int(record["num_classes"]), recipe.channels, recipe.features)
        net.load_state_dict(load_file(weights, device="cpu"))
    except (OSError, ValueError, KeyError, TypeError, SafetensorError, RuntimeError) as exc:
        raise EvaluationError(f"cached judge in {str(directory)!r} is unusable: {exc}") from None
    net.to(device).eval()
    return Judge(net, record, directory)


def load_or_train_judge(data: LabelledImages, *, cache_root: Path | str | None = None,
                        recipe: JudgeRecipe | None = None, device: torch.device | str = "cpu",
                        log: Callable[[str], None] = print, use_shipped: bool = True) -> Judge:
    """The judge for ``data`` and ``recipe``: the shipped reference judge, or one from the cache, or trained once.

    When a judge shipped in the package (:data:`SHIPPED_JUDGES_DIR`: MNIST and
    Fashion-MNIST) was trained on data with ``data``'s checksum and with
    ``recipe``, it is used (``judge.source == "shipped"``): the same weights,
    and so comparable numbers, on every machine. Otherwise a judge is trained
    here once and cached (``judge.source == "local"``).

    Args:
        data: The data set (train and test splits, uint8).
        cache_root: Cache root; default :func:`cganzoo.data.default_cache_dir`.
        recipe: Training recipe (default :func:`recipe_for` the data).
        device: Where the judge runs (and trains, if it must).
        log: Receives progress lines (training takes minutes on a CPU).
        use_shipped: ``False`` ignores the shipped judges and loads or trains a
            local one even for MNIST (to compare the two, say).

    Raises:
        EvaluationError: no test split; a matching shipped judge is corrupt.
            (A judge that misses its required accuracy is returned, marked
            unreliable: see :attr:`Judge.reliable`.)
    """
    from cganzoo.data import default_cache_dir

    recipe = recipe or recipe_for(data)
    require_test_split(data)
    data_sha256 = dataset_checksum(data)
    if use_shipped:
        record = find_shipped_judge(data_sha256, recipe)
        if record is not None:
            return load_shipped_judge(record, device)
    root = Path(cache_root).expanduser() if cache_root is not None else default_cache_dir()
    directory = judge_cache_dir(root, data.info.name, data_sha256, recipe)
    if (directory / "judge.json").is_file():
        try:
            return load_judge(directory, device)
        except EvaluationError as exc:
            log(f"judge: {exc}; training a new one")
    log(f"judge: no shipped or cached judge for {data.info.name!r} with this recipe; training one "
        f"(about a minute on 2 CPU cores, once), cache {directory}; a local judge's numbers compare only "
        "with runs on this machine")
    judge = train_judge(data, recipe, device=device, log=log)
    try:
        save_judge(judge, directory)
    except OSError as exc:
        log(f"judge: could not cache the judge in {directory} ({exc}); continuing without the cache")
        judge.record["weights_sha256"] = hashlib.sha256(_weights_bytes(judge.net)).hexdigest()
    return judge


def save_shipped_judge(judge: Judge, directory: Path | str = SHIPPED_JUDGES_DIR) -> tuple[Path, Path]:
    """Write a reference judge as ``<dataset>.safetensors`` and ``<dataset>.json`` in ``directory``.

    Used by :mod:`cganzoo.evaluation.make_reference_judges` to make the judges
    shipped in the package. Each file is written atomically.

    Returns:
        ``(weights path, record path)``. ``judge.record["weights_sha256"]`` is set.
    """
    directory = make_dirs(directory)
    blob = _weights_bytes(judge.net)
    judge.record["weights_sha256"] = hashlib.sha256(blob).hexdigest()
    name = judge.record["dataset"]
    weights, record = directory / f"{name}.safetensors", directory / f"{name}.json"
    atomic_write_bytes(weights, blob)
    atomic_write_bytes(record, (dumps_json(judge.record, indent=2) + "\n").encode("utf-8"))
    judge.path = weights
    return weights, record


def shipped_judge_records() -> list[dict[str, Any]]:
    """The records (``<dataset>.json``) of the reference judges shipped in the package, each with ``"file"`` added.

    Raises:
        EvaluationError: a shipped record is unreadable (a damaged installation).
    """
    records: list[dict[str, Any]] = []
    directory = _shipped_dir()
    if not directory.is_dir():
        return records
    for entry in sorted(directory.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".json"):
            continue
        try:
            record = json.loads(entry.read_text(encoding="utf-8"))
            record["file"] = entry.name[:-len(".json")] + ".safetensors"
        except (OSError, ValueError, TypeError) as exc:
            raise EvaluationError(f"shipped judge record {entry.name!r} is unreadable ({exc}); "
                                  "reinstall cganzoo") from None
        records.append(record)
    return records


def find_shipped_judge(data_sha256: str, recipe: JudgeRecipe) -> dict[str, Any] | None:
    """The shipped judge's record for data with checksum ``data_sha256`` and ``recipe``, or ``None``.

    Matched by the data's checksum (:func:`dataset_checksum`) and the recipe's
    digest, never by the data set's name: a renamed copy of MNIST gets the
    MNIST judge, a modified "mnist" does not.
    """
    digest = recipe.digest()
    for record in shipped_judge_records():
        if (record.get("data_sha256") == data_sha256 and record.get("recipe_sha256") == digest
                and record.get("format") == _FORMAT and record.get("version") == JUDGE_CODE_VERSION):
            return record
    return None


def load_shipped_judge(record: dict[str, Any], device: torch.device | str = "cpu") -> Judge:
    """Load the shipped judge ``record`` names, verifying its weights' sha256.

    Args:
        record: One of :func:`shipped_judge_records`.
        device: Where the judge runs.

    Raises:
        EvaluationError: the weights file is missing, does not match the
            recorded sha256, or does not load (a damaged installation).
    """
    name = record["file"]
    try:
        blob = _shipped_dir().joinpath(name).read_bytes()
        digest = hashlib.sha256(blob).hexdigest()
        if digest != record["weights_sha256"]:
            raise ValueError(f"its sha256 is {digest[:12]}..., the record says {record['weights_sha256'][:12]}...")
        recipe = JudgeRecipe.model_validate(record["recipe"])
        net = JudgeNet(tuple(record["input_shape"]), int(record["num_classes"]), recipe.channels, recipe.features)
        net.load_state_dict(safetensors_load(blob))
    except (OSError, ValueError, KeyError, TypeError, SafetensorError, RuntimeError) as exc:
        raise EvaluationError(f"shipped judge {name!r} is corrupt: {' '.join(str(exc).split())}; "
                              "reinstall cganzoo") from None
    net.to(device).eval()
    return Judge(net, record, SHIPPED_JUDGES_DIR / name, source="shipped")


def _shipped_dir() -> Any:
    """The package's ``judges`` directory as an importlib.resources traversable (works from a wheel or zip)."""
    return resources.files("cganzoo.evaluation").joinpath("judges")


def _weights_bytes(net: nn.Module) -> bytes:
    """The safetensors file of ``net``'s state (deterministic for equal weights)."""
    return safetensors_bytes({k: v.detach().contiguous().cpu() for k, v in net.state_dict().items()})


__all__ = [
    "FEATURE_LAYER",
    "Judge",
    "JudgeNet",
    "JudgeRecipe",
    "LOCAL_JUDGE_NOTE",
    "SHIPPED_JUDGES_DIR",
    "dataset_checksum",
    "find_shipped_judge",
    "judge_cache_dir",
    "load_judge",
    "load_or_train_judge",
    "load_shipped_judge",
    "recipe_for",
    "require_test_split",
    "save_judge",
    "save_shipped_judge",
    "shipped_judge_records",
    "train_judge",
]
