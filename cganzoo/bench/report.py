"""Benchmark results as a console table, Markdown, CSV, JSON and a throughput plot."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import asdict, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

from cganzoo.bench.machine import format_load, format_threads
from cganzoo.bench.suite import CONV_ROOF_SHARE, BenchResult, Row
from cganzoo.runs.figures import pyplot, save_figure
from cganzoo.io import atomic_write_json, atomic_write_text, make_dirs

_COLUMNS: tuple[tuple[str, str], ...] = (
    ("model", "model"), ("conditioner", "cond."), ("loss", "loss"), ("variant", "variant"), ("batch_size", "batch"),
    ("images_per_s", "img/s"), ("vs_reference", "x ref"), ("images_per_cpu_s", "img/CPU-s"), ("step_ms", "ms/step"), ("epoch_s", "s/epoch"),
    ("mflop_per_image", "MFLOP/img"), ("gflops", "GFLOP/s"), ("roofline_pct", "% matmul"), ("conv_roof_pct", "% conv roof"),
    ("peak_memory_mib", "peak MiB"), ("warmup_s", "warm-up s"), ("steps", "steps"),
)


def device_tag(result: BenchResult) -> str:
    """File name stem: ``cpu``, or ``cuda-<gpu name>`` (lowercase, dashes)."""
    acc = result.machine.get("accelerator")
    if not acc:
        return "cpu"
    return "cuda-" + re.sub(r"[^a-z0-9]+", "-", acc["name"].lower()).strip("-")


def _fmt(key: str, value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if key == "vs_reference":
            return f"{value:.2f}x"
        if key in ("images_per_s", "images_per_cpu_s", "peak_memory_mib"):
            return f"{value:,.0f}"
        if key in ("roofline_pct", "conv_roof_pct"):
            return f"{value:.0f}%"
        if key in ("step_ms", "epoch_s", "gflops", "warmup_s", "mflop_per_image"):
            return f"{value:.1f}" if value < 1000 else f"{value:,.0f}"
        return f"{value:.3g}"
    return str(value)


def _cells(row: Row) -> list[str]:
    cells = [_fmt(key, getattr(row, key)) for key, _ in _COLUMNS]
    if row.status != "ok":
        cells[5] = row.status
    return cells


def _section_rows(result: BenchResult, section: str) -> list[Row]:
    return [r for r in result.rows if r.section == section]


def console_table(result: BenchResult) -> str:
    """The main table (reference row first) and the sweep, as aligned text."""
    out = io.StringIO()
    for title, rows in (("batch-size table", _section_rows(result, "reference") + _section_rows(result, "table")),
                        ("batch-size sweep", _section_rows(result, "sweep"))):
        if not rows:
            continue
        header = [h for _, h in _COLUMNS]
        body = [_cells(r) for r in rows]
        widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(header)]
        out.write(f"\n{title}\n")
        for cells in [header, *body]:
            out.write("  ".join(c.rjust(w) if i >= 4 else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))
                      .rstrip() + "\n")
    ref = result.reference
    if ref:
        out.write(f"\nreference pipeline: {ref.images_per_s:,.0f} img/s at batch {ref.batch_size}; "
                  f"'x ref' is each row's images/s over it, from this run.\n")
    return out.getvalue()


def _md_table(rows: Sequence[Row]) -> str:
    header = [h for _, h in _COLUMNS]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" if i < 4 else "---:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(_cells(r)) + " |" for r in rows]
    return "\n".join(lines)


def markdown(result: BenchResult, *, title: str | None = None, preamble: str = "", plot_name: str | None = None,
             quality_plot_name: str | None = None) -> str:
    """The full report: machine, matmul roof, the main table with the reference row, the sweep, notes."""
    m = result.machine
    acc = m.get("accelerator")
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"# {title or 'cganzoo benchmark: ' + device_tag(result)}", ""]
    if preamble:
        lines += [preamble.strip(), ""]
    lines += [
        "## Machine", "",
        f"- processor: {m['processor']}, {m['logical_cpus']} logical CPUs, torch uses {format_threads(m['torch_threads'])}; "
        f"flags {', '.join(m['cpu_flags']) or 'none of interest'}; PyTorch CPU kernels: {m['cpu_capability']}",
        f"- memory: {m['memory_gib']} GiB",
        f"- bf16: {'native' if m.get('bf16', {}).get('native') else 'emulated'} ({m.get('bf16', {}).get('detail', 'not recorded')})",
        f"- accelerator: {acc['name']} (compute capability {acc['capability']}, {acc['memory_gib']} GiB, CUDA {acc['cuda']})"
        if acc else "- accelerator: none (CPU run)",
        f"- software: {m['platform']}; " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()),
        f"- load average (1, 5, 15 min) at start {format_load(m.get('load_average_start'))}, at end "
        f"{format_load(result.load_average_end)}; a figure near or above the number of CPUs means other work shared "
        f"the machine and the figures below are low.",
        f"- taken {stamp}; the whole run took {result.seconds:.0f} s; command: `{result.options.get('command', '')}`",
        "", "## Matrix-product throughput (the roof)", "",
        "| dtype | m x k x n | ms | GFLOP/s | |", "|---|---|---:|---:|---|",
    ]
    emulated = not m.get("bf16", {}).get("native", True)
    lines += [f"| {r.dtype} | {r.m}x{r.k}x{r.n} | {r.seconds * 1e3:.2f} | {r.gflops:.0f} | "
              f"{'emulated: no native bf16 here' if r.dtype == 'bf16' and emulated else ''} |" for r in result.matmul]
    lines += ["", "`% matmul` below is a row's achieved GFLOP/s over the best matrix-product figure of its dtype "
              "(fp32 rows against fp32, bf16 rows against bf16), both from this run.", ""]
    if result.conv:
        lines += _conv_roof_section(result, emulated)
    main = _section_rows(result, "reference") + _section_rows(result, "table")
    if main:
        lines += [f"## Models at batch {result.options.get('batch_size')}", "", _md_table(main), ""]
        lines += _roof_notes(main)
        ref = result.reference
        if ref:
            lines += [f"The first row is the reference pipeline (torchvision `MNIST` + per-sample PIL "
                      f"`Resize`/`ToTensor`/`Normalize`, `DataLoader` batch {ref.batch_size} shuffled, numpy noise, "
                      f"default Adam, losses read back every step): {ref.images_per_s:,.0f} img/s. "
                      f"`x ref` divides each row's images/s by it; both come from this run.", ""]
    sweep = _section_rows(result, "sweep")
    if sweep:
        lines += ["## Batch-size sweep", "", _md_table(sweep), ""]
        lines += _roof_notes(sweep)
        if plot_name:
            lines += [f"![throughput against batch size]({plot_name})", ""]
    if result.quality:
        lines += _quality_section(result, quality_plot_name)
    lines += ["## How these figures are taken", "", *NOTES, ""]
    if result.options.get("repeats", 1) > 1:
        lines += [f"Each row was timed in {result.options['repeats']} windows, the model table round-robin (every "
                  f"row once, then again), to even out other work on the machine; the fastest window is shown, all "
                  f"are in the CSV column `all_images_per_s`. The model table's peak memory then includes the other "
                  f"rows' trainers, all alive at once.", ""]
    return "\n".join(lines)


def _conv_roof_section(result: BenchResult, emulated: bool) -> list[str]:
    lines = ["## Convolution throughput (the roof of convolutional models)", "",
             "| dtype | input, kernel | layout | ms | GFLOP/s | |", "|---|---|---|---:|---:|---|"]
    lines += [f"| {r.dtype} | {r.shape} | {r.layout} | {r.seconds * 1e3:.1f} | {r.gflops:.0f} | "
              f"{'emulated: no native bf16 here' if r.dtype == 'bf16' and emulated else ''} |" for r in result.conv]
    layout_notes: list[str] = []
    for dtype in dict.fromkeys(r.dtype for r in result.conv):
        by_layout = {layout: max(r.gflops for r in result.conv if r.dtype == dtype and r.layout == layout)
                     for layout in dict.fromkeys(r.layout for r in result.conv if r.dtype == dtype)}
        if len(by_layout) == 2 and by_layout.get("contiguous"):
            layout_notes.append(f"- {dtype}: best channels-last {by_layout['channels-last']:.0f} GFLOP/s against best "
                         f"contiguous {by_layout['contiguous']:.0f} ({by_layout['channels-last'] / by_layout['contiguous']:.2f}x).")
    lines += ["", *layout_notes, "", "`conv2d` with padding 1, forward and backward (input and weight gradients, 3 x the forward's "
              "2 B C_out H W C_in 9 FLOPs), timed like the products. `% conv roof` below is a row's achieved GFLOP/s "
              "over the best of these figures in its dtype (either layout); it is given instead of `% matmul` for "
              f"rows whose counted FLOPs are at least {100 * CONV_ROOF_SHARE:.0f}% convolutions.", ""]
    return lines


def _roof_notes(rows: Sequence[Row]) -> list[str]:
    """One line per row whose `% matmul` or `% conv roof` is not shown, saying why."""
    notes = [f"- {r.model} {r.variant} batch {r.batch_size}: `% matmul` {r.roofline_basis}" for r in rows
             if r.status == "ok" and r.roofline_pct is None and (r.roofline_basis or "").startswith("not shown")]
    notes += [f"- {r.model} {r.variant} batch {r.batch_size}: `% conv roof` {r.conv_roof_basis}" for r in rows
              if r.status == "ok" and r.conv_roof_pct is None and (r.conv_roof_basis or "").startswith("not shown")]
    return notes + [""] if notes else []


def _quality_section(result: BenchResult, plot_name: str | None) -> list[str]:
    runs = result.quality
    steps = runs[0].metrics[-1]["step"]
    base = runs[0].metric("conditional-accuracy", "accuracy")
    lines = [f"## Quality after the same number of steps ({steps}, same seed)", "",
             "Each variant trained from the same seed through `cganzoo.train` (the whole runner), then evaluated by "
             "the runner's end-of-run evaluation (`eval_at_end`; `cganzoo eval` computes the same): conditional "
             "accuracy (the judge classifier's agreement with the condition label) and the Frechet distance in "
             "judge features to the test split. Loss means are over the last 20% of the logged steps; `run s` "
             "includes the evaluation (and the judge's one-off training, if it happened in this run).", "",
             "| variant | steps | run s | mean logged img/s | D loss (last 20%) | G loss (last 20%) | "
             "cond. accuracy | vs fp32, points | judge FD |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for run in runs:
        mean_ips = sum(r["images_per_s"] for r in run.metrics) / len(run.metrics)
        acc, fd = run.metric("conditional-accuracy", "accuracy"), run.metric("judge-frechet-distance", "fd")
        delta = f"{100 * (acc - base):+.1f}" if acc is not None and base is not None else "-"
        lines.append(f"| {run.variant} | {run.metrics[-1]['step']} | {run.seconds:.0f} | {mean_ips:,.0f} | "
                     f"{run.tail_mean('d_loss'):.4f} | {run.tail_mean('g_loss'):.4f} | "
                     f"{'-' if acc is None else f'{100 * acc:.1f}%'} | {delta} | {'-' if fd is None else f'{fd:.2f}'} |")
    lines.append("")
    if plot_name:
        lines += [f"![loss curves and final sample grids]({plot_name})", ""]
    return lines


NOTES = (
    "- Every row but the reference trains through `cganzoo.training.FitLoop` and its `TrainStep`, the loop and step "
    "`cganzoo run` runs (next device-resident batch, step, losses recorded on the device in its `LossWindow` and read "
    "back at the log interval), with the variant's options in the run config and no output callbacks.",
    "- Warm-up steps (including compilation and CUDA-graph capture, reported as `warm-up s`) are excluded; then at "
    "least the configured seconds and steps are timed. `img/s` = timed steps x batch / timed seconds; "
    "`s/epoch` = training-set size / `img/s`.",
    "- `MFLOP/img`: matrix-product FLOPs (multiply-accumulate = 2) of one training step per image, counted with "
    "`torch.utils.flop_counter.FlopCounterMode`. For `mlp-cgan` it equals the count from layer shapes "
    "(`cganzoo.bench.flops`): G forward F_G = 3.50 MFLOP, D forward F_D = 2.11 MFLOP per image; cganzoo's step "
    "(D frozen during the G update) = 3 F_G + 8 F_D = 27.37 MFLOP; the reference's step also computes D's weight "
    "gradients during the G update, 3 F_G + 9 F_D = 29.48 MFLOP. `GFLOP/s` = MFLOP/img x img/s. Convolutions "
    "(and transposed ones) are counted too: 2 B C_out H_out W_out C_in k_h k_w forward, twice that backward; the CSV's "
    "`conv_share` is their share of a row's FLOPs.",
    "- Variants: `fp32` is the default run config (exactly the reference's arithmetic; Adam's multi-tensor kernel, "
    "bit-identical on CPU to PyTorch's default); `fused-adam` uses the fused Adam kernel (faster, rounds differently "
    "on CPU); `bf16` runs G's and D's forward passes under `torch.autocast(bfloat16)` with fp32 weights, gradients "
    "and Adam (fused); `compile` applies `torch.compile` to G and D; `cuda-graphs` replays the whole step as one "
    "captured CUDA graph; `channels-last` holds G's and D's 4-D weights channels-last (`--channels-last`), so "
    "convolutions run NHWC.",
    "- `img/CPU-s`: images per second of processor time of the whole process (all threads) during the timed "
    "steps. On a quiet machine it is about `img/s` divided by the busy threads; on a shared one it is much less "
    "disturbed by other work than `img/s` (but spinning threads still count).",
    "- Peak memory: process peak resident set size during the timed steps on CPU (it includes the Python process, "
    "PyTorch and the data set), `torch.cuda.max_memory_allocated` on CUDA.",
    "- Quality after a fixed budget (conditional accuracy, judge-feature distance) is measured by `--quality-steps` "
    "(its own section, when run).",
)


def write_csv(result: BenchResult, path: Path) -> Path:
    """One line per row, every :class:`Row` field as a column."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=[f.name for f in fields(Row)], lineterminator="\n")
    writer.writeheader()
    for row in result.rows:
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in asdict(row).items()})
    atomic_write_text(path, buffer.getvalue())
    return path


def write_json(result: BenchResult, path: Path) -> Path:
    """Machine, options, matmul figures and rows, for machines."""
    record = {"machine": result.machine, "options": result.options, "seconds": result.seconds,
              "load_average_end": result.load_average_end, "train_size": result.train_size,
              "matmul": [asdict(r) for r in result.matmul], "conv": [asdict(r) for r in result.conv], "rows": [asdict(r) for r in result.rows],
              "quality": [{"variant": q.variant, "seconds": q.seconds, "metrics": q.metrics, "evaluation": q.evaluation}
                          for q in result.quality]}
    atomic_write_json(path, record)
    return path


def plot_sweep(result: BenchResult, path: Path) -> Path | None:
    """Images/s and peak memory against batch size, one line per sweep variant, the reference as a point.

    Returns:
        ``path``, or ``None`` when there is no sweep to plot.
    """
    sweep = [r for r in _section_rows(result, "sweep") if r.images_per_s]
    if not sweep:
        return None
    fig, (ax, mem) = pyplot().subplots(1, 2, figsize=(11, 4.2))
    for variant in dict.fromkeys(r.variant for r in sweep):
        pts = [r for r in sweep if r.variant == variant]
        ax.plot([r.batch_size for r in pts], [r.images_per_s for r in pts], marker="o", label=f"{pts[0].model} {variant}")
        mem.plot([r.batch_size for r in pts], [r.peak_memory_mib for r in pts], marker="o", label=variant)
    ref = result.reference
    if ref:
        ax.scatter([ref.batch_size], [ref.images_per_s], marker="x", s=80, color="black", zorder=5,
                   label="reference pipeline")
    sizes = sorted({r.batch_size for r in sweep})
    for axis in (ax, mem):
        axis.set_xscale("log", base=2)
        axis.set_xticks(sizes, [str(b) for b in sizes])
        axis.minorticks_off()
        axis.set_xlabel("batch size")
        axis.grid(True, which="both", alpha=0.3)
    ax.set_ylabel("training images / s")
    ax.set_title(f"throughput ({device_tag(result)})")
    ax.legend(fontsize=8)
    mem.set_ylabel(f"peak memory, MiB ({sweep[0].memory_kind})")
    mem.set_title("peak memory")
    fig.tight_layout()
    return save_figure(fig, path, dpi=110)


def write_results(result: BenchResult, out_dir: Path, *, tag: str | None = None, preamble: str = "") -> list[Path]:
    """Write ``<tag>.md``, ``<tag>.csv``, ``<tag>.json``, ``<tag>-sweep.png`` (and ``<tag>-quality.png``) into ``out_dir``.

    ``tag`` defaults to :func:`device_tag` (``cpu``, ``cuda-nvidia-h200``...).
    """
    make_dirs(out_dir)
    tag = tag or device_tag(result)
    plot = plot_sweep(result, out_dir / f"{tag}-sweep.png")
    quality = None
    if result.quality:
        from cganzoo.bench.quality import plot_quality

        quality = plot_quality(result.quality, out_dir / f"{tag}-quality.png",
                               title=f"{result.options.get('focus_model')}: fp32 and fast-path variants, same seed")
    md = markdown(result, title=f"cganzoo benchmark: {tag}", preamble=preamble, plot_name=plot.name if plot else None,
                  quality_plot_name=quality.name if quality else None)
    atomic_write_text(out_dir / f"{tag}.md", md)
    paths = [out_dir / f"{tag}.md", write_csv(result, out_dir / f"{tag}.csv"), write_json(result, out_dir / f"{tag}.json")]
    return paths + [path for path in (plot, quality) if path]
