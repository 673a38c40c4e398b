"""The ``cganzoo`` command line: the arguments of each command, and one function per command.

Each command calls the room that does its work: ``run``, ``sample`` and ``eval``
the Python API (:mod:`cganzoo.api`) after the pre-flight checks
(:mod:`cganzoo.training.preflight`; ``--nproc`` through
:mod:`cganzoo.distributed.launch`); ``list`` and ``plugins`` the components
(:mod:`cganzoo.components`); ``plot`` and ``compare`` the runs
(:mod:`cganzoo.runs`); ``bench`` the benchmark runner (:mod:`cganzoo.bench`).
The CLI holds no training, sampling or reading logic of its own.

Errors cganzoo raises on purpose become one line on stderr and a non-zero exit
code (2 for bad input), never a traceback.
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import sys
from pathlib import Path
from typing import Any, Sequence

from cganzoo.errors import CganzooError, ConfigError, OutputError, TrainingInterrupted, describe
from cganzoo.io import atomic_write_text, check_output_dir, check_output_file, dumps_json
from cganzoo.distributed.launch import add_launch_arguments

#: ``cganzoo run`` flags that map one-to-one onto RunConfig fields.
_RUN_FIELDS: dict[str, tuple[type, str]] = {
    "epochs": (int, "passes over the training set (default 200)"),
    "max_steps": (int, "stop after this many steps in total (smoke runs)"),
    "batch_size": (int, "images per step, over all ranks under --nproc/torchrun (default 64)"),
    "lr": (float, "learning rate of G and D (default 2e-4; initial rate with --optimizer sgd)"),
    "d_steps_per_g_step": (int, "discriminator updates per generator update, n_dis (default 1; wgan-gp: 5)"),
    "b1": (float, "Adam beta1 (default 0.5)"),
    "b2": (float, "Adam beta2 (default 0.999)"),
    "latent_dim": (int, "width of z (default 100)"),
    "latent_distribution": (str, "prior of z: normal (default) | uniform (U[0,1), the CGAN paper's)"),
    "img_size": (int, "image side in pixels after the one-off resize (default 32)"),
    "seed": (int, "seed for every random number generator (default 0)"),
    "device": (str, "auto | cpu | cuda | cuda:N (default auto)"),
    "sample_interval": (int, "write a sample grid every N steps (default 400)"),
    "log_interval": (int, "log losses and images/s every N steps (default 50)"),
    "checkpoint_interval": (int, "write a checkpoint every N steps (default 1000; also each epoch end)"),
    "eval_interval": (int, "evaluate every N steps and at the end, appending to metrics.jsonl (see `cganzoo eval`)"),
    "r1_gamma": (float, "R1 penalty weight gamma on D's gradient at real images (Mescheder et al. 2018, Eq. 9; "
                        "default 0: off)"),
    "r1_interval": (int, "apply R1 every N-th D update, scaled by N (lazy regularisation, StyleGAN2; default 1)"),
    "eval_samples_per_class": (int, "generated images per class for each evaluation (default 1000)"),
    "out": (Path, "run directory (default runs/<model>-<dataset>-<time>)"),
    "data_dir": (Path, "the image folder of --dataset imagefolder; for MNIST-like sets, hand-placed data files "
                         "(their cache goes there too)"),
}
#: ``cganzoo run`` flags for distributed runs (defined in :mod:`cganzoo.distributed.launch`) that are RunConfig fields.
_DIST_FIELDS = ("sync_batchnorm", "dist_timeout_s")
#: Metavars that the last word of the field name would get wrong.
_METAVARS = {"eval_samples_per_class": "N", "r1_gamma": "GAMMA", "r1_interval": "N", "latent_distribution": "NAME", "d_steps_per_g_step": "N"}
#: Flags that set one player's optimizer setting: flag dest -> (config field, key, help).
_PLAYER_FLAGS = {
    "g_lr": ("generator_optimizer", "lr", "learning rate of G only, overriding --lr there (e.g. TTUR: --g-lr 1e-4 "
                                          "--d-lr 4e-4)"),
    "d_lr": ("discriminator_optimizer", "lr", "learning rate of D only, overriding --lr there"),
}
#: Flags that add a built-in callback: flag dest -> (callback, param or None for a bare switch, help).
_CALLBACK_FLAGS = {
    "ema_decay": ("ema", "decay", "sample and evaluate with an EMA of G's weights with this decay, e.g. 0.999 "
                                  "(the `ema` callback)"),
    "ema_start": ("ema", "start", "steps before the EMA starts averaging (it copies G until then; default 0)"),
    "tensorboard": ("tensorboard", None, "write TensorBoard event files under RUN_DIR/tensorboard "
                                         "(needs cganzoo[tensorboard]); watch with: tensorboard --logdir RUN_DIR"),
}
#: Flags that pick a component by name.
_COMPONENT_FLAGS = {
    "dataset": "data set (default mnist)",
    "conditioner": "conditioner for G and D, each built for its side (see `cganzoo list conditioner`)",
    "generator_conditioner": "conditioner for G only, overriding --conditioner there",
    "discriminator_conditioner": "conditioner for D only, overriding --conditioner there",
    "loss": "adversarial loss (see `cganzoo list loss`)",
    "generator": "generator network (see `cganzoo list generator`)",
    "discriminator": "discriminator network (see `cganzoo list discriminator`)",
    "augmentation": "augment real and generated images before D in both players' updates, e.g. diffaugment "
                    "(see `cganzoo list augmentation`)",
    "optimizer": "adam (default: lr, b1, b2) | sgd (momentum 0.5->0.7, lr decay 1.00004/step; the CGAN paper's)",
}


class _Parser(argparse.ArgumentParser):
    """argparse with cganzoo's error style: one line naming the bad value, exit 2, no usage block."""

    def error(self, message: str):  # type: ignore[override]
        print(f"cganzoo: error: {self.prog.removeprefix('cganzoo').strip() + ': ' if self.prog != 'cganzoo' else ''}"
              f"{message} (see `{self.prog} --help`)", file=sys.stderr)
        sys.exit(2)


def _verbose_parent() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--verbose", action="store_true",
                        help="after an error or warning line, print the details behind it (each data source's "
                             f"reason, a plugin's full validation message); same as {VERBOSE_ENV}=1")
    return parent


#: Environment variable that has the effect of --verbose (and carries it to torchrun's workers).
VERBOSE_ENV = "CGANZOO_VERBOSE"


def _check_png_output(path: Path, command: str) -> None:
    """``-o`` of a command that writes PNG: a ``.png`` name in a writable place, checked before the work."""
    if path.suffix.lower() != ".png":
        raise ConfigError(f"-o {str(path)!r}: cganzoo {command} writes PNG; name a .png file")
    check_output_file(path, "-o")


def _data_dir(path: Path | None) -> Path | None:
    """``--data-dir``: an existing directory (data is looked for and cached there), made absolute; ``None`` stays.

    Raises:
        ConfigError: it does not exist or is not a directory (a typo would otherwise fill a new
            directory with a downloaded cache).
    """
    if path is None:
        return None
    path = Path(path).expanduser().absolute()
    if not path.is_dir():
        what = "is a file, not a directory" if path.exists() else "does not exist"
        raise ConfigError(f"--data-dir {str(path)!r} {what}; name the directory holding your data files (the "
                          f"data cache goes there too), or create it first")
    return path


def _seed(text: str) -> int:
    """A seed flag: the range ``RunConfig.seed`` accepts, so ``sample`` and ``eval`` refuse what ``run`` refuses."""
    from cganzoo.config import RunConfig

    field = RunConfig.model_fields["seed"]
    low, high = (next(m for m in field.metadata if hasattr(m, name)) for name in ("ge", "lt"))
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid seed {text!r}: give an integer") from None
    if not low.ge <= value < high.lt:
        raise argparse.ArgumentTypeError(f"seed {value} is outside [{low.ge}, 2**63)")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="cganzoo",
        description="A plugin-based conditional GAN zoo: train, sample, evaluate, plot, compare and list models.",
        epilog="Example: cganzoo run mlp-cgan --dataset mnist --epochs 1 --device cpu",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    # Every command takes --verbose: errors stay one line, the details behind them follow it.
    sub.add_parser = functools.partial(sub.add_parser, parents=[_verbose_parent()])  # type: ignore[method-assign]

    run = sub.add_parser("run", help="train a model", description=(
        "Train MODEL (see `cganzoo list model`). Settings resolve as: defaults (the reference MLP CGAN's), "
        "the model preset, --config FILE, then flags."))
    run.add_argument("model", nargs="?", help="registered model, e.g. mlp-cgan (optional with --config or --resume)")
    run.add_argument("--config", type=Path, metavar="FILE", help="YAML or JSON file of run settings; flags override it")
    run.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue a run from its latest checkpoint")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument("--eval", dest="eval_at_end", action="store_true", default=None,
                     help="evaluate when training ends (all metrics, appended to metrics.jsonl)")
    for name, help_text in _COMPONENT_FLAGS.items():
        run.add_argument(f"--{name.replace('_', '-')}", dest=name, metavar="NAME", help=help_text)
    run.add_argument("--dataset-param", dest="dataset_params", action="append", metavar="KEY=VALUE",
                     help="a data set option, repeatable (e.g. --dataset hf --dataset-param path=uoft-cs/cifar10; "
                          "`cganzoo list dataset --json` shows each data set's options)")
    for name, (kind, help_text) in _RUN_FIELDS.items():
        run.add_argument(f"--{name.replace('_', '-')}", dest=name, type=kind,
                         metavar=_METAVARS.get(name, name.split("_")[-1].upper()), help=help_text)
    group = run.add_argument_group("training options")
    for name, (_, _, help_text) in _PLAYER_FLAGS.items():
        group.add_argument(f"--{name.replace('_', '-')}", dest=name, type=float, metavar="LR", help=help_text)
    group.add_argument("--ema-decay", dest="ema_decay", type=float, metavar="DECAY", help=_CALLBACK_FLAGS["ema_decay"][2])
    group.add_argument("--ema-start", dest="ema_start", type=int, metavar="STEPS", help=_CALLBACK_FLAGS["ema_start"][2])
    group.add_argument("--tensorboard", action="store_const", const=True, default=None,
                       help=_CALLBACK_FLAGS["tensorboard"][2])
    group.add_argument("--callbacks", metavar="NAMES", help="comma-separated registered callbacks to add "
                       "(`cganzoo list callback`); options go in a --config file")
    _add_fast_path_flags(run)
    add_launch_arguments(run)
    run.set_defaults(run_parser=run)  # --nproc rebuilds the workers' command line from it

    lst = sub.add_parser("list", help="list registered components", description=(
        "List every registered component: models, datasets, conditioners, generators, discriminators, losses, metrics."))
    lst.add_argument("kind", nargs="?", help="only this kind (model, dataset, conditioner, generator, discriminator, loss, metric)")
    lst.add_argument("--filter", default="*", metavar="GLOB", help="only names matching this glob (or any of comma-separated globs), e.g. 'mlp*' or 'mlp*,cdcgan'")
    lst.add_argument("--json", action="store_true", help="machine-readable output")

    plugins = sub.add_parser("plugins", help="list installed plugins and the hooks each implements")
    plugins.add_argument("--json", action="store_true", help="machine-readable output")

    _add_bench_parser(sub)

    sample = sub.add_parser("sample", help="draw a sample grid from a trained run")
    sample.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    sample.add_argument("--labels", required=True, help="comma-separated class indices or names, e.g. 3,7 or three,seven; with the "
                        "word-vectors conditioner also free text, e.g. \"seven,digit three\"")
    sample.add_argument("--n", type=int, default=10, help="images per label (default 10); one row per label")
    sample.add_argument("-o", "--output", type=Path, default=Path("samples.png"), help="PNG to write (default samples.png)")
    sample.add_argument("--seed", type=_seed, default=0, help="noise seed in [0, 2**63) (default 0)")
    sample.add_argument("--device", default="cpu", help="cpu | cuda | auto (default cpu)")

    ev = sub.add_parser("eval", help="evaluate a trained run: every metric on 10,000 samples", description=(
        "Evaluate RUN_DIR's latest checkpoint: draw --per-class samples of every class (seeded, G in eval mode) "
        "and compute every registered metric (`cganzoo list metric`) against the data set's test split. The judge "
        "classifier is shipped for MNIST and Fashion-MNIST; for other data it is trained once (seconds to a few "
        "minutes on 2 CPU cores) and cached. --data-dir must hold data of the run's classes and image shape."))
    ev.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    ev.add_argument("--json", action="store_true", help="print the full report (values, protocols, notes) as JSON")
    ev.add_argument("--metrics", metavar="NAMES", help="comma-separated metric names (default: all registered)")
    ev.add_argument("--per-class", type=int, default=1000, metavar="N",
                    help="generated images per class (default 1000; the Parzen protocol needs 1000)")
    ev.add_argument("--seed", type=_seed, default=0, help="evaluation seed for z, in [0, 2**63) (default 0)")
    ev.add_argument("--device", default="cpu", help="cpu | cuda | auto (default cpu)")
    ev.add_argument("--data-dir", type=Path, metavar="DIR",
                    help="data files and judge cache (default: the run's --data-dir, else the data cache)")
    ev.add_argument("-o", "--output", type=Path, metavar="FILE", help="also write the JSON report to FILE")

    plot = sub.add_parser("plot", help="plot runs' losses, images/s and evaluation metrics against steps, with sample "
                          "grids", description=(
        "Draw one PNG: d_loss, g_loss, images/s and every evaluation metric in metrics.jsonl against steps, one line "
        "per run, then each run's first, middle and last sample grid. Needs matplotlib (cganzoo[plot])."),
        epilog="Example: cganzoo plot runs/a runs/b -o ab.png")
    plot.add_argument("runs", nargs="+", type=Path, metavar="RUN_DIR", help="run directories written by `cganzoo run`")
    plot.add_argument("-o", "--output", type=Path, metavar="FILE",
                      help="PNG to write (default: RUN_DIR/plot.png for one run, plot.png here for several)")
    plot.add_argument("--title", help="figure title (default: model and data set of one run, the run count of several)")

    compare = sub.add_parser("compare", help="one table of runs' config differences and final metrics", description=(
        "Compare runs: the config.json fields that differ between them, the last logged step and losses, the median "
        "images/s and the last evaluation's metrics, one column per run."))
    compare.add_argument("runs", nargs="+", type=Path, metavar="RUN_DIR", help="run directories written by `cganzoo run`")
    compare.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def _run(args: argparse.Namespace) -> int:
    from cganzoo.api import read_run_config, resolve_config, train
    from cganzoo.config import merge_config, validate_config

    overrides: dict[str, Any] = {name: getattr(args, name) for name in (*_RUN_FIELDS, *_FAST_PATH_FIELDS, *_DIST_FIELDS)
                                 if getattr(args, name) is not None}
    if args.eval_at_end:
        overrides["eval_at_end"] = True
    for name in _COMPONENT_FLAGS:
        if getattr(args, name) is not None:
            overrides[name] = {"name": getattr(args, name)}
    for name, (field, key, _) in _PLAYER_FLAGS.items():
        if getattr(args, name) is not None:
            overrides.setdefault(field, {})[key] = getattr(args, name)
    callbacks: dict[str, dict[str, Any]] = {}
    for name in filter(None, (part.strip() for part in (args.callbacks or "").split(","))):
        callbacks.setdefault(name, {})
    for name, (callback, param, _) in _CALLBACK_FLAGS.items():
        if getattr(args, name) is not None:
            params = callbacks.setdefault(callback, {})
            if param is not None:
                params[param] = getattr(args, name)
    if callbacks:
        overrides["callbacks"] = [{"name": name, "params": params} for name, params in callbacks.items()]
    if args.dataset_params:
        overrides["dataset"] = {**overrides.get("dataset", {}), "params": _key_values(args.dataset_params)}
    if overrides.get("data_dir") is not None:
        # Stored in config.json: absolute, so eval and resume find the data from any working directory.
        overrides["data_dir"] = _data_dir(overrides["data_dir"])
    if args.nproc is None:
        from cganzoo.distributed.launch import check_no_launch_flags

        check_no_launch_flags(args)
    if args.resume:
        if args.model or args.config:
            raise ConfigError("--resume continues a run with its own config; give no MODEL or --config with it")
        if args.out is not None and Path(args.out).absolute() != Path(args.resume).absolute():
            raise ConfigError(f"--resume continues {str(args.resume)!r} in that directory; --out {str(args.out)!r} "
                              f"names another: drop --out (to branch a run, copy its directory and resume the copy)")
        saved, _ = read_run_config(args.resume)
        config = validate_config(merge_config(saved.to_json_dict(), overrides))
        if args.nproc is not None:
            return _launch(args, config)
        train(config, run_dir=args.resume, resume=True, progress=not args.no_progress)
        return 0
    if not args.model and not args.config:
        raise ConfigError("name a MODEL (see `cganzoo list model`), or give --config FILE or --resume RUN_DIR")
    config = resolve_config(args.model, config_file=args.config, overrides=overrides)
    if args.nproc is not None:
        return _launch(args, config)
    train(config, progress=not args.no_progress)
    return 0


def _key_values(items: Sequence[str]) -> dict[str, Any]:
    """``["size=32", "path=a/b"]`` -> ``{"size": 32, "path": "a/b"}`` (values read as YAML scalars)."""
    import yaml

    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--dataset-param takes KEY=VALUE, got {item!r}")
        try:
            value = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError:
            value = text
        out[key.strip()] = value if isinstance(value, (int, float, bool)) or value is None else text
    return out


def _launch(args: argparse.Namespace, config: Any) -> int:
    """``cganzoo run --nproc N``: the same run under torchrun (see :mod:`cganzoo.distributed.launch`)."""
    from cganzoo.distributed import launch
    from cganzoo.distributed.device import resolve_device
    from cganzoo.training import default_run_dir, preflight

    # What every rank would refuse, refused once here before any process starts.
    launch.check_launch_args(args, config.batch_size)
    preflight.check_run(config, resolve_device(config.device), world_size=None, resume_dir=args.resume)
    replace = {}
    if not args.resume and config.out is None:
        replace["out"] = default_run_dir(config)  # one name for every rank, decided once
    workers = launch.worker_argv(args, args.run_parser, **replace)
    return launch.launch(launch.torchrun_argv(args, workers))


def _list(args: argparse.Namespace) -> int:
    from cganzoo.components.factory import list_components
    from cganzoo.errors import UnknownComponentError
    from cganzoo.components.registry import KINDS

    if args.kind and args.kind not in KINDS:
        raise UnknownComponentError(f"unknown kind {args.kind!r}; choose one of: {', '.join(KINDS)}")
    components = list_components(args.kind, args.filter)
    if args.json:
        from cganzoo.training.build import preset_parameter_counts

        print(dumps_json([{"kind": c.kind, "name": c.name, "plugin": c.plugin, "description": c.description,
                           "params": c.params.model_json_schema().get("properties", {}),
                           **({"parameters": preset_parameter_counts(c.name)} if c.kind == "model" else {}),
                           **({"shapes": _shapes(c) or "any"} if c.kind in _NETWORK_KINDS else {})}
                          for c in components], indent=2))
        return 0
    # Networks declare the images they handle (GeneratorNetwork.supported_shapes); other kinds have no shape.
    rows = [(c.kind, c.name, c.plugin, _format_shapes(c), c.description) for c in components]
    _print_table(("KIND", "NAME", "PLUGIN", "SHAPES", "DESCRIPTION"), rows)
    return 0


_NETWORK_KINDS = ("generator", "discriminator")


def _shapes(component: Any) -> dict[str, list[int]] | None:
    declared = getattr(component.factory, "supported_shapes", None)
    return {k: list(v) for k, v in declared.items()} if isinstance(declared, dict) else None


def _format_shapes(component: Any) -> str:
    if component.kind not in _NETWORK_KINDS:
        return ""
    shapes = _shapes(component)
    if shapes is None:
        return "any"
    channels = "|".join(map(str, shapes.get("channels", ()))) or "any"
    sizes = "|".join(map(str, shapes.get("sizes", ()))) or "any"
    return f"{channels} ch, {sizes} px"


def _plugins(args: argparse.Namespace) -> int:
    from cganzoo.components.discovery import default_host, hooks_by_plugin

    host = default_host()
    hooks = hooks_by_plugin(host.pm)
    entries = []
    for plugin in host.pm.get_plugins():
        name = host.pm.get_name(plugin)
        entries.append({"name": name, "module": getattr(plugin, "__name__", repr(plugin)), "hooks": hooks.get(name, [])})
    entries.sort(key=lambda e: e["name"])
    if args.json:
        print(dumps_json({"plugins": entries, "errors": host.errors}, indent=2))
        return 0
    _print_table(("PLUGIN", "MODULE", "HOOKS"), [(e["name"], e["module"], ", ".join(e["hooks"])) for e in entries])
    return 0


def _sample(args: argparse.Namespace) -> int:
    from cganzoo.api import load
    from cganzoo.components.sampling import save_grid

    if args.n < 1:
        raise ConfigError(f"--n must be at least 1, got {args.n}")
    _check_png_output(args.output, "sample")  # before loading and sampling, not after
    model = load(args.run_dir, device=args.device)
    # Class indices and names, and free text where the conditioner takes it (word-vectors).
    labels = model.parse_conditions(args.labels)
    if len(labels) * args.n > _MAX_GRID_IMAGES:
        raise ConfigError(f"{len(labels)} label(s) x --n {args.n} is more than {_MAX_GRID_IMAGES} images for "
                           f"one grid; lower --n, or sample in batches from Python (cganzoo.load(RUN_DIR).sample)")
    images = model.sample(labels, n=args.n, seed=args.seed)
    try:
        # Each row is labelled with its class name (or the free text it was drawn for).
        names = [model.info.class_names[label] if isinstance(label, int) else label for label in labels]
        path = save_grid(images, args.output, nrow=args.n, class_names=names)
    except OSError as exc:
        raise OutputError(f"could not write {str(args.output)!r}: {exc.strerror or exc}; {images.shape[0]} images "
                          f"were sampled but not saved") from None
    weights = "" if model.weights == "G" else f", {model.weights}"
    print(f"wrote {path} ({images.shape[0]} images from step {model.step}{weights}, one row per label)")
    return 0


#: Most images ``cganzoo sample`` puts in one grid (a bigger PNG is unreadable, and costly to hold in memory).
_MAX_GRID_IMAGES = 10_000


#: Fast-path ``cganzoo run`` flags (RunConfig fields; see cganzoo/training/fastpath.py).
_FAST_PATH_FIELDS = ("amp", "compile", "cuda_graphs", "adam_impl", "channels_last")


def _add_fast_path_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("fast path (see benchmarks/results for the measured effect of each)")
    group.add_argument("--amp", choices=("off", "bf16", "auto"), default=None,
                       help="bf16: forward passes under torch.autocast(bfloat16), fp32 weights and Adam, refused where "
                            "bf16 is emulated; auto: bf16 only where the hardware runs it natively (default off)")
    group.add_argument("--compile", action="store_const", const=True, default=None,
                       help="torch.compile G and D (compiling takes 1-4 minutes on a 2-core CPU with a cold cache)")
    group.add_argument("--cuda-graphs", dest="cuda_graphs", action="store_const", const=True, default=None,
                       help="capture the whole training step as one CUDA graph (CUDA only)")
    group.add_argument("--channels-last", dest="channels_last", action="store_const", const=True, default=None,
                       help="convolutions in channels-last (NHWC) layout: faster for convolutional models on CPU "
                            "(see benchmarks/README.md), rounds differently from the default")
    group.add_argument("--adam-impl", dest="adam_impl", choices=("auto", "fused", "foreach", "for-loop"), default=None,
                       help="Adam kernel (default auto: fused on CUDA and with --amp/--compile, else foreach, "
                            "bit-identical to PyTorch's default on CPU)")


def _add_bench_parser(sub: Any) -> None:
    bench = sub.add_parser("bench", help="measure training speed against the reference pipeline and the matmul roof",
                           description=(
        "Benchmark registered models through the training runner: images/s at steady state, step time, peak "
        "memory, GFLOP/s against the matrix-product (or, for convolutional models, convolution) throughput "
        "measured in the same run, and the ratio to the "
        "reference pipeline (torchvision MNIST + PIL transforms + DataLoader + numpy noise) from the same run; "
        "then a batch-size sweep. Writes <tag>.md, .csv, .json and -sweep.png to --out."),
        epilog="Example: cganzoo bench --filter 'mlp-cgan*' --device cpu")
    bench.add_argument("--filter", default="mlp-cgan*", metavar="GLOB",
                       help="models to run, globs separated by commas, e.g. 'cdcgan,sngan-*' (default 'mlp-cgan*')")
    bench.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N (default auto)")
    bench.add_argument("--conditioners", metavar="GLOB", help="cross each model with these conditioners")
    bench.add_argument("--losses", metavar="GLOB", help="cross each model with these losses")
    bench.add_argument("--dataset", metavar="NAME", help="train every row on this data set (default: each model's)")
    bench.add_argument("--data-dir", type=Path, metavar="DIR", help="hand-placed data files / data cache")
    bench.add_argument("--batch-size", type=int, default=64, metavar="N", help="batch of the model table (default 64)")
    bench.add_argument("--variants", metavar="LIST",
                       help="comma-separated fast-path variants of the focus model, tokens joined by '+': "
                            "fp32, bf16, compile, cuda-graphs, fused-adam, foreach-adam, for-loop-adam, channels-last "
                            "(default cpu: fp32,fp32+fused-adam,bf16; cuda adds cuda-graphs and compile variants)")
    bench.add_argument("--variant-models", metavar="GLOBS",
                       help="also run these models (comma-separated globs) in every --variants (default: the focus "
                            "model only)")
    bench.add_argument("--sweep-variants", metavar="LIST", help="variants of the sweep (default cpu: fp32,bf16)")
    bench.add_argument("--batch-sizes", default="64,128,256,512,1024,2048,4096", metavar="LIST",
                       help="sweep batch sizes, comma-separated; 'none' for no sweep (default 64 to 4096)")
    bench.add_argument("--no-reference", action="store_true", help="skip the reference-pipeline row")
    bench.add_argument("--reference-model", default="mlp-cgan", metavar="NAME",
                       help="model the reference row stands for; also the focus of variants and sweep (default mlp-cgan)")
    bench.add_argument("--seconds", type=float, default=2.0, metavar="S", help="timed seconds per row (default 2)")
    bench.add_argument("--warmup-steps", type=int, default=3, metavar="N", help="untimed steps per row (default 3)")
    bench.add_argument("--min-steps", type=int, default=3, metavar="N", help="minimum timed steps per row (default 3)")
    bench.add_argument("--repeats", type=int, default=1, metavar="N",
                       help="timed windows per row, fastest kept; the model table is timed round-robin (default 1)")
    bench.add_argument("--threads", type=int, metavar="N", help="torch.set_num_threads(N) (default: PyTorch's choice)")
    bench.add_argument("--matmul-seconds", type=float, default=0.5, metavar="S",
                       help="timing per matrix-product shape (default 0.5)")
    bench.add_argument("--quality-steps", type=int, default=0, metavar="N",
                       help="also train the focus model N steps in fp32 and each --quality-variants through "
                            "`cganzoo run`'s runner, same seed; plot loss curves and sample grids side by side")
    bench.add_argument("--quality-variants", default="bf16", metavar="LIST", help="variants compared with fp32 (default bf16)")
    bench.add_argument("--quality-eval-samples", type=int, default=1000, metavar="N",
                       help="images per class for each quality run's evaluation (conditional accuracy, judge FD; "
                            "default 1000; 0: no evaluation)")
    bench.add_argument("--out", type=Path, default=Path("benchmarks/results"), metavar="DIR",
                       help="where results go (default benchmarks/results)")
    bench.add_argument("--tag", metavar="NAME", help="file name stem (default cpu or cuda-<gpu name>)")
    bench.add_argument("--note", default="", help="text put at the top of the Markdown report")
    bench.add_argument("--no-write", action="store_true", help="print the table only")


def _csv_list(text: str | None, flag: str, kind: type = str) -> tuple[Any, ...] | None:
    if text is None:
        return None
    if text.strip().lower() in ("", "none"):
        return ()
    try:
        return tuple(kind(part.strip()) for part in text.split(",") if part.strip())
    except ValueError:
        raise ConfigError(f"{flag} takes a comma-separated list of {kind.__name__} values, got {text!r}") from None


def _bench(args: argparse.Namespace) -> int:
    import shlex

    from cganzoo.bench import BenchOptions, run_benchmarks
    from cganzoo.bench.report import console_table, write_results

    import importlib.util

    if not args.no_write and importlib.util.find_spec("matplotlib") is None:  # checked before minutes of timing
        from cganzoo.errors import OptionalDependencyError

        raise OptionalDependencyError("cganzoo bench writes its plots with matplotlib, which is not installed: "
                                      "pip install 'cganzoo[plot]' (or pass --no-write)")
    if args.seconds <= 0 or args.matmul_seconds <= 0 or args.warmup_steps < 0 or args.min_steps < 1:
        raise ConfigError("--seconds and --matmul-seconds must be positive, --warmup-steps at least 0 and "
                          f"--min-steps at least 1; got {args.seconds}, {args.matmul_seconds}, {args.warmup_steps}, "
                          f"{args.min_steps}")
    if not args.no_write:
        check_output_dir(args.out, "--out")  # before minutes of timing, not after
    options = BenchOptions(
        filter=args.filter, device=args.device, conditioners=args.conditioners, losses=args.losses,
        dataset=args.dataset, data_dir=_data_dir(args.data_dir), batch_size=args.batch_size,
        variants=_csv_list(args.variants, "--variants"), variant_models=args.variant_models,
        sweep_variants=_csv_list(args.sweep_variants, "--sweep-variants"),
        batch_sizes=_csv_list(args.batch_sizes, "--batch-sizes", int) or (), reference=not args.no_reference,
        reference_model=args.reference_model, seconds=args.seconds, warmup_steps=args.warmup_steps,
        min_steps=args.min_steps, threads=args.threads, repeats=args.repeats, matmul_seconds=args.matmul_seconds,
        quality_steps=args.quality_steps, quality_eval_per_class=args.quality_eval_samples,
        quality_variants=_csv_list(args.quality_variants, "--quality-variants") or (),
        log=lambda line: print(line, file=sys.stderr, flush=True))
    result = run_benchmarks(options)
    result.options["command"] = "cganzoo " + shlex.join(sys.argv[1:] if sys.argv[1:2] == ["bench"] else ["bench"])
    print(console_table(result))
    if not args.no_write:
        try:
            written = write_results(result, args.out, tag=args.tag, preamble=args.note)
        except OSError as exc:
            raise OutputError(f"could not write the benchmark results to {str(args.out)!r}: {exc.strerror or exc}; "
                              f"the table above holds the figures") from None
        for path in written:
            print(f"wrote {path}")
    print(f"bench took {result.seconds:.0f} s")
    return 0


def _eval(args: argparse.Namespace) -> int:
    from cganzoo.api import evaluate_run

    if args.per_class < 1:
        raise ConfigError(f"--per-class must be at least 1, got {args.per_class}")
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()] if args.metrics is not None else None
    if metrics == []:
        raise ConfigError(f"--metrics {args.metrics!r} names no metric; give comma-separated names "
                          f"(see `cganzoo list metric`), or leave the flag out for all of them")
    if args.output:
        check_output_file(args.output, "-o")  # before minutes of evaluation, not after

    def log(line: str) -> None:
        print(line, file=sys.stderr)

    report = evaluate_run(args.run_dir, metrics=metrics, per_class=args.per_class, seed=args.seed,
                          device=args.device, data_dir=_data_dir(args.data_dir), log=log)
    text = dumps_json(report.to_json(), indent=2)
    # What was computed is printed first: a file that cannot be written at the end loses nothing.
    if args.json:
        print(text, flush=True)
    else:
        from cganzoo.api import read_run_config

        _, run_record = read_run_config(args.run_dir)
        names = run_record.get("dataset", {}).get("class_names")
        weights = report.protocol.get("generator", "G") if isinstance(report.protocol, dict) else "G"
        print(f"{args.run_dir} (step {report.step}; generator: {weights})")
        print(report.format_table(names), flush=True)
    if args.output:
        try:
            atomic_write_text(args.output, text + "\n")
        except OSError as exc:
            raise OutputError(f"could not write the report to {str(args.output)!r}: {exc.strerror or exc}; "
                              f"it was printed above") from None
    return 0


def _plot(args: argparse.Namespace) -> int:
    from cganzoo.runs.figures import pyplot
    from cganzoo.runs.plots import plot_runs, write_plot
    from cganzoo.runs.history import read_runs

    pyplot()  # a missing matplotlib is said before anything is read
    runs = read_runs(args.runs)
    output = args.output or (runs[0].path / "plot.png" if len(runs) == 1 else Path("plot.png"))
    _check_png_output(output, "plot")
    drawn = plot_runs(runs, title=args.title)
    for note in drawn.notes:
        print(f"cganzoo: note: {note}", file=sys.stderr)
    try:
        write_plot(drawn, output)
    except OSError as exc:
        raise OutputError(f"could not write the plot to {str(output)!r}: {exc.strerror or exc}; choose a writable "
                          f"-o path") from None
    print(f"wrote {output} ({len(drawn.curves)} curve panels, {len(drawn.grids)} sample grids, {len(runs)} run(s))")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from cganzoo.runs.compare import comparison, format_comparison
    from cganzoo.runs.history import read_runs

    data = comparison(read_runs(args.runs))
    print(dumps_json(data, indent=2) if args.json else format_comparison(data))
    return 0


def _print_table(header: Sequence[str], rows: list[Sequence[str]]) -> None:
    widths = [max([len(h)] + [len(str(r[i])) for r in rows]) for i, h in enumerate(header)]
    for row in [header, *rows]:
        print("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)).rstrip())


_COMMANDS = {"run": _run, "list": _list, "plugins": _plugins, "sample": _sample, "bench": _bench, "eval": _eval,
             "plot": _plot, "compare": _compare}


class _StatusLines(logging.StreamHandler):
    """Writes each record's message as one line to whatever ``sys.stdout`` is at that moment."""

    @property  # type: ignore[override]
    def stream(self):  # noqa: D102 - the current stdout, even if it was replaced after the handler was made
        return sys.stdout

    @stream.setter
    def stream(self, value) -> None:
        pass


def _print_status_lines() -> None:
    """Show the ``cganzoo`` logger's status lines on stdout, one line each, as the commands always printed them."""
    logger = logging.getLogger("cganzoo")
    if not any(isinstance(h, _StatusLines) for h in logger.handlers):
        handler = _StatusLines()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``cganzoo`` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    _print_status_lines()
    before = os.environ.get(VERBOSE_ENV)
    if getattr(args, "verbose", False):
        os.environ[VERBOSE_ENV] = "1"  # read by the plugin loader's warnings, and inherited by torchrun's workers
    try:
        return _main(args)
    finally:
        if before is None:
            os.environ.pop(VERBOSE_ENV, None)
        else:
            os.environ[VERBOSE_ENV] = before


def _main(args: argparse.Namespace) -> int:
    try:
        return _COMMANDS[args.command](args)
    except TrainingInterrupted as exc:  # not an error: the run stopped cleanly and can be resumed
        if os.environ.get("RANK", "0") == "0":  # under torchrun, rank 0 speaks for the job
            print(f"cganzoo: {exc}", file=sys.stderr)
        return exc.exit_code
    except CganzooError as exc:
        print(error_line(exc), file=sys.stderr)
        details = error_details(exc)
        if details and verbose():
            print(details, file=sys.stderr)
        return getattr(exc, "exit_code", 1)
    except KeyboardInterrupt:
        print("cganzoo: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `cganzoo list | head`: the reader left; say nothing more
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # Python's flush at exit would fail again
        return 1


def verbose() -> bool:
    """Whether ``--verbose`` (or ``CGANZOO_VERBOSE=1``) asks for the details behind errors and warnings."""
    return os.environ.get(VERBOSE_ENV, "") not in ("", "0")


def error_line(exc: CganzooError) -> str:
    """The one line the CLI prints for ``exc``: ``cganzoo: error: ...``, with a pointer to --verbose if it has details."""
    line = f"cganzoo: error: {describe(exc)}"
    if error_details(exc) and not verbose():
        line += " (--verbose shows details)"
    return line


def error_details(exc: CganzooError) -> str:
    """What ``--verbose`` prints after the error line: the error's ``details``, each line indented."""
    text = getattr(exc, "details", None) or ""
    if "\n" in str(exc):  # a message written over several lines: its full form is a detail
        text = str(exc) + ("\n" + text if text else "")
    return "\n".join(f"  {line}" for line in text.splitlines() if line.strip())


if __name__ == "__main__":
    sys.exit(main())
