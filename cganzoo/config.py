"""Run configuration: one pydantic model for everything a run needs.

Resolution order, later wins: the defaults below (equal to the reference MLP
CGAN's), the model preset (``cganzoo run MODEL``), a ``--config`` file (YAML
or JSON), then command-line flags.

Config values mean what was typed, from every source (files, flags, Python
overrides, a run's ``config.json``, component params): a key given twice in
one file is refused (:func:`parse_config_text`), and a bool is never taken for
a number (:func:`refuse_bools_as_numbers`, applied to every model here through
:class:`ConfigModel` and to every component's params model through
:func:`validate_options`).
"""

from __future__ import annotations

import functools
import json
import types
import typing
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (BaseModel, ConfigDict, Field, GetCoreSchemaHandler, ValidationError, field_validator,
                      model_validator)
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from cganzoo.errors import ConfigError
from cganzoo.errors import format_validation_error


def refuse_bools_as_numbers(schema: CoreSchema) -> CoreSchema:
    """``schema`` with every number in it refusing a bool, whatever else it accepts.

    pydantic's lax mode takes ``True`` for the integer 1 (and for ``Literal[1]``), so
    ``epochs: true`` trained one epoch. Its strict mode would refuse bools, but also what
    a config rightly holds: PyYAML reads ``lr: 1e-4`` (no dot) as the string ``"1e-4"``,
    and strict floats refuse strings. So each ``int`` and ``float`` schema (and each
    literal of numbers) is wrapped in a before-validator that refuses a bool only, and
    pydantic then validates the rest as before: an int still passes as a float, ``None``
    where the field allows it, and constraints (``ge=1``) keep their own messages.

    Args:
        schema: A pydantic-core schema (a model's ``__pydantic_core_schema__``).

    Returns:
        A new schema; ``schema`` is not changed. Every error it adds has the type
        ``bool_is_not_a_number`` and the message ``Input should be an integer, not a boolean``
        (``a number`` for floats, the choices for a literal).
    """
    if isinstance(schema, list):
        return [refuse_bools_as_numbers(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    # Values and metadata are data, not schemas: a default may well be a dict with a "type" key.
    walked = {key: value if key in _NOT_SCHEMAS else refuse_bools_as_numbers(value)
              for key, value in schema.items()}
    kind = walked.get("type")
    if kind == "int":
        return core_schema.no_info_before_validator_function(_no_bool("an integer"), walked)
    if kind == "float":
        return core_schema.no_info_before_validator_function(_no_bool("a number"), walked)
    if kind == "literal":
        expected = list(walked.get("expected", ()))
        if any(isinstance(v, (int, float)) and not isinstance(v, bool) for v in expected) and not any(
                isinstance(v, bool) for v in expected):
            shown = [repr(v) for v in expected]
            choices = shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " or " + shown[-1]
            return core_schema.no_info_before_validator_function(_no_bool(choices), walked)
    return walked


#: Keys of a core schema that hold data (defaults, literal values, metadata) or serialisation, never validation.
_NOT_SCHEMAS = frozenset({"default", "expected", "metadata", "serialization", "config", "ref", "cls", "function"})


def _no_bool(what: str):
    def refuse(value: Any) -> Any:
        if isinstance(value, bool):
            raise PydanticCustomError("bool_is_not_a_number", "Input should be {what}, not a boolean", {"what": what})
        return value
    return refuse


class ConfigModel(BaseModel):
    """Base of cganzoo's config models: a bool is never one of their numbers (:func:`refuse_bools_as_numbers`).

    It holds for every way in: ``model_validate``, the constructor and assignment.
    """

    @classmethod
    def __get_pydantic_core_schema__(cls, source: type[BaseModel], handler: GetCoreSchemaHandler, /) -> CoreSchema:
        return refuse_bools_as_numbers(handler(source))


def validate_options(model: type[BaseModel], data: Any) -> BaseModel:
    """Validate ``data`` with any pydantic model, a bool refused for every number in it.

    For the params models that plugins register (plain ``BaseModel`` subclasses): the
    same rule as the run's own fields, through :func:`strict_model`.

    Raises:
        ValidationError: as ``model.model_validate(data)``, and for a bool given for a number.
    """
    return strict_model(model).model_validate(data)


@functools.lru_cache(maxsize=None)
def strict_model(model: type[BaseModel]) -> type[BaseModel]:
    """``model`` if it derives from :class:`ConfigModel`, else a subclass of it (same name) that does.

    A subclass, not a validator built from ``model``'s schema: pydantic-core reuses the
    validator a finished model class already holds wherever that class appears, so
    only a class of its own validates differently. Models nested in a field (``Inner``,
    ``Inner | None``, ``list[Inner]``, ...) are swapped for theirs. Instances are
    instances of ``model``.
    """
    if issubclass(model, ConfigModel):
        return model
    namespace: dict[str, Any] = {"__module__": model.__module__, "__qualname__": model.__qualname__}
    annotations = {}
    for name, field in model.model_fields.items():
        swapped = _swap_models(field.annotation)
        if swapped is not field.annotation:
            annotations[name], namespace[name] = swapped, field
    if annotations:
        namespace["__annotations__"] = annotations
    return type(model.__name__, (model, ConfigModel), namespace)


def _swap_models(annotation: Any) -> Any:
    """``annotation`` with every pydantic model in it replaced by its :func:`strict_model` (itself if none)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return strict_model(annotation)
    args = typing.get_args(annotation)
    swapped = tuple(_swap_models(arg) for arg in args)
    if all(new is old for new, old in zip(swapped, args)):
        return annotation
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return typing.Annotated[(swapped[0], *annotation.__metadata__)]
    if origin in (typing.Union, types.UnionType):
        return typing.Union[swapped]
    return origin[swapped if len(swapped) > 1 else swapped[0]]


class ComponentSpec(ConfigModel):
    """A component chosen by name, with its options.

    A bare string is accepted as shorthand for ``{"name": ..., "params": {}}``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, description="Registered component name (see `cganzoo list`).")
    params: dict[str, Any] = Field(default_factory=dict, description="Options, validated by the component's own params model.")

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value


class PlayerOptimizer(ConfigModel):
    """One player's optimizer settings; every field left out is taken from the run-wide settings.

    ``generator_optimizer: {lr: 1e-4}`` and ``discriminator_optimizer: {lr: 4e-4}``
    give the two-timescale update rule (TTUR, Heusel et al. 2017, Sec. 3).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    name: str | None = Field(None, min_length=1, description="Registered optimizer (`cganzoo list optimizer`); "
                             "default: the run's `optimizer`.")
    lr: float | None = Field(None, gt=0, le=1.0, description="Learning rate; default: the run's `lr`.")
    betas: tuple[float, float] | None = Field(None, description="(b1, b2); default: the run's (b1, b2).")
    weight_decay: float = Field(0.0, ge=0, le=1.0, description="L2 weight decay (default 0, as the reference).")
    params: dict[str, Any] | None = Field(None, description="The optimizer's own options; default: the run's "
                                          "`optimizer.params` when the name is the same.")

    @field_validator("betas")
    @classmethod
    def _check_betas(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and not all(0 <= b < 1 for b in value):
            raise ValueError("betas must both lie in [0, 1)")
        return value


class ResolvedOptimizer(ConfigModel):
    """A player's optimizer with every setting filled in (what the runner builds)."""

    model_config = ConfigDict(frozen=True)

    name: str
    lr: float
    betas: tuple[float, float]
    weight_decay: float
    params: dict[str, Any]


class RunConfig(ConfigModel):
    """Everything that defines a training run. Defaults equal the reference MLP CGAN.

    Units are given per field; every field is validated (``extra="forbid"``:
    a misspelt key is an error, not silently ignored).
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)

    model: str | None = Field(None, description="Model preset this config started from, if any.")
    dataset: ComponentSpec = Field(ComponentSpec(name="mnist"), description="Dataset source.")
    conditioner: ComponentSpec = Field(ComponentSpec(name="embedding"),
                                       description="Conditioner; G and D each own an instance, built for their role.")
    generator_conditioner: ComponentSpec | None = Field(
        None, description="Conditioner of the generator only, if not `conditioner` (e.g. word-vectors for G).")
    discriminator_conditioner: ComponentSpec | None = Field(
        None, description="Conditioner of the discriminator only, if not `conditioner` (e.g. projection for D).")
    generator: ComponentSpec = Field(ComponentSpec(name="mlp"), description="Generator network.")
    discriminator: ComponentSpec = Field(ComponentSpec(name="mlp"), description="Discriminator network.")
    loss: ComponentSpec = Field(ComponentSpec(name="mse"), description="Adversarial loss.")
    augmentation: ComponentSpec | None = Field(
        None, description="Differentiable augmentation of real and generated images before D, in both players' "
                          "updates (`cganzoo list augmentation`, e.g. diffaugment); None: none.")
    r1_gamma: float = Field(0.0, ge=0, le=1e6, description="R1 penalty weight: gamma / 2 * E||grad_x D(x)||^2 on real "
                            "images added to D's loss (Mescheder et al. 2018, Eq. 9); 0: off.")
    r1_interval: int = Field(1, ge=1, le=10_000, description="Apply R1 on every this-many-th D update only, multiplied "
                             "by the interval (lazy regularisation, Karras et al. 2020, Appendix B); 1: every update.")

    epochs: int = Field(200, ge=1, description="Passes over the training set.")
    max_steps: int | None = Field(None, ge=1, description="Stop after this many steps (G+D updates) in total, if sooner.")
    batch_size: int = Field(64, ge=1, le=65536,
                            description="Images per step, over all ranks: the global batch (each of N ranks takes batch_size / N).")
    lr: float = Field(2e-4, gt=0, le=1.0, description="Learning rate of G and D (initial rate for a decaying schedule).")
    b1: float = Field(0.5, ge=0, lt=1, description="Adam beta1.")
    b2: float = Field(0.999, ge=0, lt=1, description="Adam beta2.")
    optimizer: ComponentSpec = Field(ComponentSpec(name="adam"),
                                     description="Optimizer of both players (`cganzoo list optimizer`): 'adam' (lr, "
                                                 "b1, b2; the reference's) or 'sgd' (momentum and the CGAN paper's "
                                                 "decay); generator_optimizer / discriminator_optimizer override it.")
    generator_optimizer: PlayerOptimizer | None = Field(
        None, description="G's optimizer settings where they differ from the run-wide ones (name, lr, betas, "
                          "weight_decay, params).")
    discriminator_optimizer: PlayerOptimizer | None = Field(
        None, description="D's optimizer settings where they differ from the run-wide ones.")
    d_steps_per_g_step: int = Field(1, ge=1, le=100, description="Discriminator updates per generator update "
                                    "(n_dis / n_critic; 1 in the reference, 5 in WGAN-GP). Each D update takes "
                                    "its own real batch, so a step consumes this many batches.")
    latent_dim: int = Field(100, ge=1, le=100_000, description="Width of the latent z.")
    latent_distribution: Literal["normal", "uniform"] = Field(
        "normal", description="Prior of z: 'normal' N(0, 1) (the reference's) or 'uniform' U[0, 1) (the CGAN paper's).")
    img_size: int = Field(32, ge=8, le=1024, description="Images are resized once to img_size x img_size pixels.")
    drop_last: bool = Field(True, description="Drop each epoch's last incomplete batch (a batch of one breaks BatchNorm).")

    seed: int = Field(0, ge=0, lt=2**63, description="Seeds every random number generator of the run.")
    device: str = Field("auto", description="'auto' (CUDA if available), 'cpu', 'cuda' or 'cuda:N'.")
    sync_batchnorm: bool = Field(False, description="Under torchrun, BatchNorm statistics over the global batch "
                                                    "(SyncBatchNorm, CUDA only) rather than per rank.")
    dist_timeout_s: float = Field(600.0, gt=0, le=86400, description="Under torchrun, seconds a rank waits for the "
                                                                     "others before the job fails.")

    # The fast path (cganzoo/training/fastpath.py). Defaults compute exactly the reference's arithmetic on CPU.
    amp: Literal["off", "bf16", "auto"] = Field(
        "off", description="'bf16': G and D forward passes under torch.autocast (bfloat16), fp32 master weights and "
                           "optimizer, refused where bf16 is emulated; 'auto': bf16 where the device runs it natively, "
                           "else fp32; 'off' (default, the reference's exact arithmetic): fp32 throughout.")
    compile: bool = Field(False, description="torch.compile G and D (minutes of compile time on a small CPU).")
    cuda_graphs: bool = Field(False, description="Capture the whole training step as one CUDA graph (CUDA only).")
    adam_impl: Literal["auto", "fused", "foreach", "for-loop"] = Field(
        "auto", description="Adam kernel: 'auto' is fused on CUDA and under amp/compile, else foreach "
                            "(bit-identical to PyTorch's default on CPU).")
    channels_last: bool = Field(False, description="Hold G's and D's 4-D weights channels-last (NHWC), so their "
                                                   "convolutions run in that layout (faster for convolutional models "
                                                   "on CPU, see benchmarks/; rounds differently from the default).")

    sample_interval: int = Field(400, ge=1, description="Write a 10x10 sample grid every this many steps.")
    sample_at_start: bool = Field(True, description="Also write samples/step_0.png before the first step (the "
                                                     "untrained generator on the same fixed noise), so the grids "
                                                     "show before and after; a resumed run already has it.")
    log_interval: int = Field(50, ge=1, description="Log losses and images/s every this many steps.")
    checkpoint_interval: int = Field(1000, ge=1, description="Write a checkpoint every this many steps (and at the end).")
    keep_checkpoints: int = Field(2, ge=1, description="How many most recent checkpoints to keep.")
    eval_interval: int | None = Field(None, ge=1, description="Evaluate every this many steps (and at the end); "
                                      "results go to metrics.jsonl. None: only if eval_at_end.")
    callbacks: list[ComponentSpec] = Field(
        default_factory=list, description="Training callbacks (`cganzoo list callback`), run before the built-in "
                                          "ones in this order, e.g. [{name: ema, params: {decay: 0.999}}].")
    eval_at_end: bool = Field(False, description="Evaluate once when training ends (see `cganzoo eval`).")
    eval_samples_per_class: int = Field(1000, ge=1, description="Generated images per class for each evaluation "
                                        "(1000: the Parzen protocol's 10,000 for MNIST).")

    out: Path | None = Field(None, description="Run directory; default runs/<model>-<dataset>-<time>.")
    data_dir: Path | None = Field(None, description="Directory with hand-placed data files (see docs/datasets.md).")

    @field_validator("out", "data_dir", mode="before")
    @classmethod
    def _check_path_not_empty(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            raise ValueError("an empty path is not a directory; name one, or leave the setting out")
        return value

    @field_validator("device")
    @classmethod
    def _check_device(cls, value: str) -> str:
        if value in ("auto", "cpu", "cuda") or (value.startswith("cuda:") and value[5:].isdigit()):
            return value
        raise ValueError("device must be 'auto', 'cpu', 'cuda' or 'cuda:N'")

    def conditioner_for(self, role: str) -> ComponentSpec:
        """The conditioner of one side: ``"generator"`` or ``"discriminator"``."""
        side = self.generator_conditioner if role == "generator" else self.discriminator_conditioner
        return side or self.conditioner

    def optimizer_for(self, role: str) -> ResolvedOptimizer:
        """The optimizer of one player, ``"generator"`` or ``"discriminator"``, with run-wide defaults filled in."""
        own = self.generator_optimizer if role == "generator" else self.discriminator_optimizer
        own = own or PlayerOptimizer()
        name = own.name or self.optimizer.name
        params = own.params if own.params is not None else (self.optimizer.params if name == self.optimizer.name else {})
        return ResolvedOptimizer(name=name, lr=own.lr if own.lr is not None else self.lr,
                                 betas=own.betas if own.betas is not None else (self.b1, self.b2),
                                 weight_decay=own.weight_decay, params=dict(params))

    def to_json_dict(self) -> dict[str, Any]:
        """The config as plain JSON types."""
        return json.loads(self.model_dump_json())


def validate_config(data: dict[str, Any]) -> RunConfig:
    """Build a :class:`RunConfig`, turning validation errors into one readable line.

    Raises:
        ConfigError: one ``field: problem (got value)`` per invalid field.
    """
    try:
        return RunConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError("invalid config: " + format_validation_error(exc)) from None


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML or JSON config file into a dict (not yet validated).

    Raises:
        ConfigError: the file is missing, unreadable, empty, not valid YAML/JSON, gives a key
            twice in one mapping, or is not a mapping.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {str(path)!r}: {exc}") from None
    kind = "JSON" if path.suffix.lower() == ".json" else "YAML"
    try:
        data = parse_config_text(text, kind)
    except ConfigError as exc:
        raise ConfigError(f"config file {str(path)!r}: {exc}") from None
    except (json.JSONDecodeError, yaml.YAMLError, RecursionError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)  # YAML: where it broke
        if mark is not None:
            first = f"{getattr(exc, 'problem', None) or first} (line {mark.line + 1}, column {mark.column + 1})"
            context, start = getattr(exc, "context", None), getattr(exc, "context_mark", None)
            if context and start is not None and start is not mark and start.line != mark.line:
                # An unclosed bracket is noticed lines later; say where it opened too.
                first += f", {context} that began at line {start.line + 1}, column {start.column + 1}"
        elif isinstance(exc, json.JSONDecodeError):
            first = f"{exc.msg} (line {exc.lineno}, column {exc.colno})"
        raise ConfigError(f"config file {str(path)!r} is not valid {kind}: {first}") from None
    if data is None or data == {}:
        # Almost always a mistake (a file not yet written, a wrong path to an empty
        # file); training the defaults for 200 epochs would hide it.
        raise ConfigError(f"config file {str(path)!r} is empty; give at least the model, e.g. `model: mlp-cgan`")
    if not isinstance(data, dict):
        raise ConfigError(
            f"config file {str(path)!r} must hold a mapping of RunConfig fields, got {type(data).__name__}"
        )
    return data


def parse_config_text(text: str, kind: Literal["YAML", "JSON"]) -> Any:
    """YAML or JSON text as Python values, refusing a key given twice in one mapping.

    PyYAML and ``json`` both keep the last of two equal keys silently, so a setting
    written twice trained with whichever came last. YAML merge keys (``<<: *base``)
    may still be overridden: that is what they are for.

    Raises:
        ConfigError: a key is given twice; the message names it and both lines.
        yaml.YAMLError, json.JSONDecodeError, RecursionError: the text is not valid YAML or JSON.
    """
    if kind == "YAML":
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader)
    try:
        return json.loads(text, object_pairs_hook=_unique_pairs)
    except _DuplicateJSONKey as exc:
        # json reports no position; JSON is YAML, and the YAML loader knows lines (tabs, which JSON allows
        # between tokens and YAML not, become spaces: no line moves).
        try:
            yaml.load(text.replace("\t", " "), Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader)
        except ConfigError:
            raise
        except (yaml.YAMLError, RecursionError):
            pass
        raise ConfigError(f"the key {exc.key!r} is given twice in one object; keep one") from None


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key given twice in one mapping (it keeps the last silently)."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._checked: set[yaml.Node] = set()

    def flatten_mapping(self, node: yaml.MappingNode) -> None:
        # Called once per mapping before its merge keys (`<<`) are spliced in, and again on what a merge
        # pulls in; the first call sees the keys as written, which alone must be unique.
        if node not in self._checked:
            self._checked.add(node)
            lines: dict[Any, int] = {}
            for key_node, _ in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # a non-scalar key is reported (unhashable) by PyYAML itself
                key, line = self.construct_object(key_node), key_node.start_mark.line + 1
                if key in lines:
                    where = f"both on line {line}" if lines[key] == line else f"lines {lines[key]} and {line}"
                    raise ConfigError(f"the key {key!r} is given twice ({where}); keep one")
                lines[key] = line
        super().flatten_mapping(node)


class _DuplicateJSONKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise _DuplicateJSONKey(key)
        data[key] = value
    return data


def merge_config(*layers: dict[str, Any]) -> dict[str, Any]:
    """Merge config layers, later wins.

    Component specs merge by name: a layer that names a different component
    drops the earlier layer's params for that slot (they belonged to the other
    component); a layer that keeps the name merges params.
    """
    merged: dict[str, Any] = {}
    for layer in layers:
        for key, value in layer.items():
            old = merged.get(key)
            if key == "callbacks" and isinstance(old, list) and isinstance(value, list):
                merged[key] = _merge_callbacks(old, value)
                continue
            if key in _PLAYER_FIELDS and isinstance(old, dict) and isinstance(value, dict):
                merged[key] = {**old, **value}
                continue
            if key in _COMPONENT_FIELDS and old is not None:
                old_spec = _as_spec_dict(old)
                new_spec = _as_spec_dict(value)
                if new_spec is not None and old_spec is not None and new_spec.get("name", old_spec.get("name")) == old_spec.get("name"):
                    params = {**old_spec.get("params", {}), **new_spec.get("params", {})}
                    merged[key] = {"name": old_spec.get("name"), "params": params}
                    continue
            merged[key] = value
    return merged


_COMPONENT_FIELDS = ("dataset", "conditioner", "generator_conditioner", "discriminator_conditioner",
                     "generator", "discriminator", "loss", "optimizer", "augmentation")


_PLAYER_FIELDS = ("generator_optimizer", "discriminator_optimizer")


def _merge_callbacks(old: list[Any], new: list[Any]) -> list[Any]:
    """A later layer's callback of a name already present merges its params; new names are appended."""
    merged = [_as_spec_dict(item) or item for item in old]
    for item in new:
        spec = _as_spec_dict(item)
        at = next((i for i, m in enumerate(merged) if isinstance(m, dict) and spec is not None
                   and m.get("name") == spec.get("name")), None)
        if at is None or spec is None:
            merged.append(spec or item)
        else:
            merged[at] = {"name": spec["name"], "params": {**merged[at].get("params", {}), **spec.get("params", {})}}
    return merged


def _as_spec_dict(value: Any) -> dict[str, Any] | None:
    if isinstance(value, str):
        return {"name": value, "params": {}}
    if isinstance(value, ComponentSpec):
        return value.model_dump()
    if isinstance(value, dict):
        return value
    return None
