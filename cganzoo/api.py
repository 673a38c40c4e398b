"""The Python API: train a run, load it back, sample from it. The CLI is a thin layer over this.

Example::

    import cganzoo

    config = cganzoo.resolve_config("mlp-cgan", overrides={"epochs": 1, "device": "cpu"})
    run_dir = cganzoo.train(config)                 # -> Path("runs/mlp-cgan-mnist-..."), progress on the way
    model = cganzoo.load(run_dir)                   # generator and conditioner, eval mode
    images = model.sample([3, 7], n=16, seed=0)     # (32, 1, 32, 32) float32 in [-1, 1]
    cganzoo.save_grid(images, "grid.png", nrow=16)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from cganzoo.runs.checkpoint import load_latest_checkpoint, load_module_state
from cganzoo.runs.layout import RunDir
from cganzoo.components.factory import create_dataset, model_preset
from cganzoo.config import ComponentSpec, RunConfig, merge_config, read_config_file, validate_config
from cganzoo.distributed.device import resolve_device
from cganzoo.distributed.context import distributed_session
from cganzoo.errors import CheckpointError, ConfigError, RunDirectoryError
from cganzoo.components.composition import ConditionalGenerator
from cganzoo.interfaces import DatasetInfo
from cganzoo.conditions.labels import check_labels, parse_label_items
from cganzoo.components.randomness import sample_latent
from cganzoo.components.registry import Registry
from cganzoo.training import Trainer, build_generator, dataset_differences, dataset_identity, default_run_dir


def resolve_config(model: str | None = None, *, config_file: str | Path | None = None,
                   overrides: dict[str, Any] | None = None, registry: Registry | None = None) -> RunConfig:
    """Build a run configuration: defaults < model preset < config file < overrides.

    Args:
        model: A registered model name (``cganzoo list model``), or ``None`` to
            take it from the config file, or use the bare defaults.
        config_file: YAML or JSON file of :class:`RunConfig` fields.
        overrides: Field values that win over everything else (CLI flags).
        registry: Component registry (default: installed plugins).

    Raises:
        UnknownComponentError: the model is not registered.
        ConfigError: the file is unreadable or a field is invalid (one message per field).
    """
    file_layer = read_config_file(config_file) if config_file else {}
    model = model or file_layer.get("model")
    if model is not None and not isinstance(model, str):
        raise ConfigError(f"invalid config: model: must be the name of a registered model (got {model!r})")
    preset = model_preset(model, registry=registry) if model else {}
    # The defaults' component names first: `--dataset-param k=v` (params, no name) then refines the default
    # data set rather than leaving a spec without a name.
    defaults = {name: field.default.model_dump() for name, field in RunConfig.model_fields.items()
                if isinstance(field.default, ComponentSpec)}
    layers = [defaults, preset, file_layer, overrides or {}]
    merged = merge_config(*layers)
    if model:
        merged["model"] = model
    return validate_config(merged)


def train(config: RunConfig | dict[str, Any], *, run_dir: str | Path | None = None, resume: bool = False,
          progress: bool = True, log: Callable[[str], None] | None = None, registry: Registry | None = None) -> Path:
    """Train a conditional GAN and return its run directory.

    Args:
        config: A :class:`RunConfig`, or a dict of its fields.
        run_dir: Output directory; default ``config.out`` or ``runs/<model>-<dataset>-<time>``.
        resume: Continue ``run_dir`` from its latest checkpoint (the config is read from it).
        progress: Show progress as the CLI does: a bar on stderr when it is a
            terminal, else a plain line now and then through ``log``
            (``progress=False``: neither).
        log: Receives one-line status messages (start, progress lines, end);
            ``log=lambda line: None`` silences them. Default: the ``cganzoo``
            logger at level INFO where logging shows it (the CLI's handler, an
            application's ``logging.basicConfig(level="INFO")``), else stdout.
        registry: Component registry (default: installed plugins).

    Under ``torchrun`` (``cganzoo run --nproc N``) every rank calls this; they
    train one model together and rank 0 writes the run directory (see
    ``docs/distributed.md``).

    Returns:
        The run directory, holding ``config.json``, ``metrics.jsonl``,
        ``samples/step_<N>.png`` and ``checkpoints/``.

    Raises:
        DistributedError: under torchrun, a collective failed or timed out
            (another rank died or stalled).
        TrainingInterrupted: SIGINT (Ctrl-C) or SIGTERM stopped the run after a
            checkpoint; ``train(config, run_dir=..., resume=True)`` continues it exactly.
        TrainingDivergedError: a loss or weight became NaN or infinite (the
            message names the first bad step); the last good checkpoint is kept.
        CganzooError: any other configuration, data, output or checkpoint
            problem (see :mod:`cganzoo.errors`).
    """
    if isinstance(config, dict):
        config = validate_config(config)
    target = Path(run_dir) if run_dir is not None else (config.out or default_run_dir(config))
    # Under torchrun this joins the process group (see cganzoo.distributed.context); alone it is a no-op.
    with distributed_session(resolve_device(config.device), config.dist_timeout_s) as dist:
        trainer = Trainer(config, target, resume=resume, registry=registry, progress=progress, log=log, dist=dist)
        trainer.run()
        return trainer.run_dir



def read_run_config(run_dir: str | Path) -> tuple[RunConfig, dict[str, Any]]:
    """The config a run was started with, and the whole ``config.json`` record.

    Raises:
        ConfigError: ``run_dir`` does not exist or holds no ``config.json`` (not a run directory).
        CheckpointError: its ``config.json`` is unreadable or invalid (a key given twice, a bool
            where a number belongs: the same rules as a config file's).
    """
    run = RunDir(run_dir)
    try:
        record = run.read_record()
    except RunDirectoryError as exc:  # this function's documented errors, in the words users of load/sample/eval know
        if exc.reason == "no directory":
            raise ConfigError(f"run directory {str(run_dir)!r} does not exist (or is not a directory); name a "
                              f"directory written by `cganzoo run`") from None
        if exc.reason == "no config":
            raise ConfigError(f"{str(run_dir)!r} is not a cganzoo run: it holds no config.json; name a directory "
                              f"written by `cganzoo run`") from None
        raise CheckpointError(str(exc)) from None
    try:
        return validate_config(record["config"]), record
    except ConfigError as exc:
        raise CheckpointError(f"{str(run.config_file)!r} holds an invalid run config ({exc})") from None


@dataclass
class TrainedModel:
    """A trained generator, ready to sample.

    Attributes:
        generator: ``G(z, y)`` in eval mode, conditioner included: the run's
            sampling generator (the EMA of G's weights when the run kept one).
        config: The run's configuration.
        info: The data set's classes and shape.
        step: Training step of the checkpoint loaded.
        weights: Which weights ``generator`` holds: ``"G"`` or a description
            such as ``"EMA of G's weights (decay 0.999, start 0)"``.
    """

    generator: ConditionalGenerator
    config: RunConfig
    info: DatasetInfo
    step: int
    weights: str = "G"

    @property
    def conditioner(self) -> torch.nn.Module:
        return self.generator.conditioner

    @property
    def device(self) -> torch.device:
        return next(self.generator.parameters()).device

    def parse_labels(self, labels: Sequence[int | str] | str) -> torch.Tensor:
        """Labels as integers of any integer type or class names (``"3,seven"``) -> int64 ``(K,)``.

        Raises:
            LabelError: a label is empty, a float, out of range, or neither an
                index nor a class name (see :mod:`cganzoo.conditions.labels`); the message
                names the label as given and its position.
        """
        return torch.tensor(self._parse(labels, allow_text=False), dtype=torch.int64)

    def parse_conditions(self, labels: Sequence[int | str] | str) -> list[int | str]:
        """Each label as a class index, or kept as free text if the conditioner accepts text.

        ``"seven, digit three"`` gives ``[7, "digit three"]`` with the
        ``word-vectors`` conditioner; with any other conditioner free text is
        an error.

        Raises:
            LabelError: as :meth:`parse_labels`, or free text with a conditioner that takes none.
        """
        return self._parse(labels, allow_text=bool(getattr(self.conditioner, "accepts_text", False)))

    def _parse(self, labels: Sequence[int | str] | str, allow_text: bool) -> list[int | str]:
        name = self.config.conditioner_for("generator").name
        why = ("parse_labels takes class labels only (sample() and conditions() take free text)"
               if getattr(self.conditioner, "accepts_text", False)
               else f"conditioner {name!r} takes no free text (the word-vectors conditioner does)")
        return parse_label_items(labels, self.info.num_classes, self.info.class_names, allow_text=allow_text,
                                 no_text_reason=why)

    @torch.no_grad()
    def conditions(self, labels: Sequence[int | str] | str) -> torch.Tensor:
        """Condition tensors for labels: class indices, class names or (text conditioners) free text.

        Returns:
            float ``(K, cond_dim)`` on the model's device, one row per label.

        Raises:
            LabelError: as :meth:`parse_conditions`, or a text cannot be encoded.
        """
        items = self.parse_conditions(labels)
        rows: list[torch.Tensor | None] = [None] * len(items)
        indices = [k for k, item in enumerate(items) if isinstance(item, int)]
        texts = [k for k, item in enumerate(items) if isinstance(item, str)]
        if indices:
            y = torch.tensor([items[k] for k in indices], dtype=torch.int64, device=self.device)
            for k, row in zip(indices, self.conditioner(y)):
                rows[k] = row
        if texts:
            for k, row in zip(texts, self.conditioner.encode_text([items[k] for k in texts])):
                rows[k] = row
        return torch.stack(rows)

    @torch.no_grad()
    def sample(self, labels: Sequence[int | str] | str | torch.Tensor, n: int = 10, seed: int = 0) -> torch.Tensor:
        """Draw ``n`` images of each label.

        Args:
            labels: Class indices (integers of any integer type, or a 1-D
                tensor of any integer dtype), class names, free text
                (conditioners that accept it, e.g. ``word-vectors``:
                ``"seven,digit three"``), or a comma-separated string of them.
                Floats are refused, never rounded.
            n: Images per label.
            seed: Seeds the noise ``z``, drawn from the run's latent prior
                (``config.latent_distribution``; reference: ``N(0, 1)``).

        Returns:
            float32 ``(len(labels) * n, C, H, W)`` in ``[-1, 1]``, label-major
            (all images of the first label, then the second...).

        Raises:
            LabelError: a label is out of range or unknown.
            ValueError: ``n < 1``.
        """
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        if isinstance(labels, torch.Tensor):
            y = check_labels(labels, self.info.num_classes, source="labels")
            c = None
        else:
            items = self.parse_conditions(labels)
            if all(isinstance(item, int) for item in items):
                y, c = torch.tensor(items, dtype=torch.int64), None
            else:
                y, c = None, self.conditions(items)
        count = (y.numel() if c is None else c.shape[0]) * n
        gen = torch.Generator(device="cpu").manual_seed(seed)
        z = sample_latent(count, self.generator.latent_dim, self.config.latent_distribution,
                          generator=gen).to(self.device)
        was_training = self.generator.training
        self.generator.eval()
        try:
            if c is None:
                return self.generator(z, y.repeat_interleave(n).to(self.device)).float()
            return self.generator.from_condition(z, c.repeat_interleave(n, dim=0)).float()
        finally:
            self.generator.train(was_training)


def load(run_dir: str | Path, *, device: str = "cpu", registry: Registry | None = None,
         weights: str = "sampling") -> TrainedModel:
    """Load a run's latest checkpoint: the generator and its conditioner, in eval mode.

    Only what sampling needs is built: the generator network and its
    conditioner (a run trained with a third-party discriminator loads without
    that plugin).

    Args:
        run_dir: A directory written by :func:`train` / ``cganzoo run``.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"``.
        registry: Component registry (default: installed plugins); it must
            provide the run's generator and conditioner.
        weights: ``"sampling"`` (default): the run's sampling generator, the
            EMA of G when the run kept one; ``"trained"``: G's own weights.

    Raises:
        CheckpointError: no config or checkpoint, or they do not match.
        UnknownComponentError: a component of the run is no longer installed.
    """
    config, record = read_run_config(run_dir)
    ds = record.get("dataset", {})
    try:
        info = DatasetInfo(name=ds["name"], num_classes=int(ds["num_classes"]),
                           class_names=tuple(ds["class_names"]), shape=tuple(ds["shape"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{str(RunDir(run_dir).config_file)!r} has no valid dataset record: {exc}") from None
    if weights not in ("sampling", "trained"):
        raise ConfigError(f"weights {weights!r} is not one of: sampling, trained")
    generator = build_generator(config, info, registry)
    path, loaded = load_latest_checkpoint(Path(run_dir))
    state, used = loaded.state, "G"
    sampling = state.get("sampling") if isinstance(state.get("sampling"), dict) else None
    if weights == "sampling" and sampling is not None:
        stem = str(sampling.get("file", "")).removesuffix(".safetensors")
        if stem not in loaded.modules:
            raise CheckpointError(f"checkpoint {str(path)!r} names sampling weights {sampling.get('file')!r}, "
                                  f"which it does not hold; load(..., weights='trained') uses G's own weights")
        load_module_state(generator, loaded.modules[stem], f"generator ({sampling.get('label')})")
        used = str(sampling.get("description") or sampling.get("label"))
    else:
        load_module_state(generator, loaded.generator, "generator")
    try:
        step = int(state.get("step", 0))
    except (TypeError, ValueError):
        raise CheckpointError(f"checkpoint {str(path)!r}: state.json holds step {state.get('step')!r}, "
                              f"not an integer") from None
    generator.to(resolve_device(device)).eval()
    return TrainedModel(generator=generator, config=config, info=info, step=step, weights=used)


def check_evaluation_data(run_dir: str | Path, data: Any, log: Callable[[str], None] = print) -> None:
    """Refuse to measure a run against data of other classes or shape than it was trained on.

    Compares ``data`` with the ``dataset`` record of the run's ``config.json``
    (what ``--resume`` compares too). Other classes (count or names) or another
    image shape would give wrong per-class numbers or fail inside the
    generator; data of the same classes and shape but other content (a
    held-out folder, a changed copy) is allowed, with one warning line.

    Raises:
        ConfigError: ``num_classes``, ``class_names`` or ``shape`` differ; the
            message names the field, both values and what to do.
    """
    recorded = read_run_config(run_dir)[1].get("dataset")  # None for runs written before it was recorded
    now = dataset_identity(data)
    changed = dataset_differences(recorded, now, ("num_classes", "class_names", "shape"))
    if changed:
        key = changed[0]
        raise ConfigError(
            f"run {str(run_dir)!r} was trained on data set {recorded.get('name')!r} with {key} {recorded[key]!r}, "
            f"but the data to evaluate against has {now[key]!r}; evaluate with the run's own data (omit "
            f"--data-dir) or with data of the same classes and image shape")
    if dataset_differences(recorded, now, ("sha256",)):
        log(f"warning: the {now['name']!r} data to evaluate against has the run's classes and shape but other "
            f"content than it was trained on (SHA-256 of the training images and labels differs); the metrics "
            f"compare its samples with this data")


def evaluate_run(run_dir: str | Path, *, metrics: Sequence[str | dict[str, Any]] | None = None,
                 per_class: int = 1000, seed: int = 0, device: str = "cpu", data_dir: str | Path | None = None,
                 registry: Registry | None = None, log: Callable[[str], None] = print) -> Any:
    """Evaluate the latest checkpoint of a run directory (``cganzoo eval``): its sampling generator.

    Args:
        run_dir: A directory written by ``cganzoo run``.
        metrics: Metric names; default every registered metric.
        per_class: Generated images per class (1000: the Parzen protocol's 10,000 for MNIST).
        seed: Evaluation seed.
        device: Where the generator and judge run.
        data_dir: Overrides the run's ``data_dir`` (data files and judge cache).
        registry: Component registry.
        log: Progress lines.

    Returns:
        A :class:`cganzoo.evaluation.EvaluationReport`.

    Raises:
        CheckpointError: not a run directory, or no checkpoint.
        ConfigError: the data has other classes or image shape than the run
            was trained on (see :func:`check_evaluation_data`).
        EvaluationError: see :func:`cganzoo.evaluation.evaluate_samples`.
    """
    from cganzoo.evaluation import evaluate_generator

    device = resolve_device(device)
    model = load(run_dir, device=str(device), registry=registry)
    config = model.config
    root = Path(data_dir) if data_dir is not None else config.data_dir
    data = create_dataset(config.dataset.name, config.dataset.params, data_dir=root, log=log, registry=registry,
                          img_size=config.img_size)
    check_evaluation_data(run_dir, data, log)
    extra = {"run_dir": str(run_dir), "model": config.model, "checkpoint_step": model.step,
             "generator": model.weights}
    return evaluate_generator(model.generator, data, per_class=per_class, seed=seed,
                              latent_distribution=config.latent_distribution, metrics=metrics,
                              cache_root=root, device=device, registry=registry, log=log, step=model.step,
                              extra_protocol=extra)
