"""Sample a word-vectors run with label phrasings never seen in training, and say where each one lands.

For each label it prints the nearest class text by the frozen encoder's cosine
similarity, and the nearest class by the learned condition ``c`` the
generator actually receives (Euclidean distance to each class's ``c``, with
the ratio nearest / second nearest: near 0 means "this class", near 1 "between
two classes"). It writes the grid, one row per label. Usage, from the
repository root::

    OMP_NUM_THREADS=1 python docs/zoo/word_vectors_demo.py RUN_DIR -o docs/zoo/word-vectors-unseen.png

where RUN_DIR is a trained ``cdcgan-word-vectors`` run, e.g. from
``cganzoo run cdcgan-word-vectors --max-steps 937 --device cpu --out RUN_DIR``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
import torch.nn.functional as F

import cganzoo

LABELS = ["seven", "the digit seven", "digit three", "the number 3", "a handwritten seven", "number eight",
          "the figure four", "numeral five", "six digit", "a zero", "one hundred", "cat"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("-o", "--output", type=Path, required=True)
    parser.add_argument("--n", type=int, default=10)
    parser.add_argument("--labels", default=",".join(LABELS), help="comma-separated labels (default: the docs' list)")
    args = parser.parse_args()
    labels = [part.strip() for part in args.labels.split(",") if part.strip()]

    model = cganzoo.load(args.run_dir)
    cond = model.conditioner
    names = model.info.class_names
    with torch.no_grad():
        class_c = cond(torch.arange(len(names)))
        items = model.parse_conditions(labels)  # class index, or free text
        texts = [item for item in items if isinstance(item, str)]
        from cganzoo_conditioners.text_encoders import load_encoder

        encoder = load_encoder(cond.source, cond.format)
        # Cosine similarity in the encoder's own space (before the conditioner centres it).
        cosine = (F.normalize(encoder.encode(texts), dim=1) @ F.normalize(encoder.encode(cond.class_texts), dim=1).T
                  if texts else None)
        label_c = model.conditions(items)
    print(f"run {args.run_dir} (step {model.step}), template {cond.template!r}\n")
    print("| label | seen in training? | nearest class text (cosine) | nearest class by condition c "
          "(distance ratio 1st/2nd) |")
    print("| --- | --- | --- | --- |")
    for i, label in enumerate(labels):
        distances = (class_c - label_c[i]).norm(dim=1)
        nearest = distances.topk(2, largest=False)
        by_c = f"{names[int(nearest.indices[0])]} ({(nearest.values[0] / nearest.values[1]).item():.2f})"
        if isinstance(items[i], int):
            seen, by_text = "yes (class)", f"{names[items[i]]} (1.00)"
        else:
            row = cosine[texts.index(items[i])]
            best = int(row.argmax())
            seen = "no" if label != cond.class_texts[best] else "as free text, equal to a class text"
            by_text = f"{cond.class_texts[best]!r} ({row[best].item():.2f})"
        print(f"| {label} | {seen} | {by_text} | {by_c} |")
    # The same noise in every row (column j shares z_j), so rows differ only by their label.
    z = torch.randn(args.n, model.generator.latent_dim, generator=torch.Generator().manual_seed(0))
    model.generator.eval()
    with torch.no_grad():
        images = model.generator.from_condition(z.repeat(len(labels), 1), label_c.repeat_interleave(args.n, dim=0))
    path = cganzoo.save_grid(images, args.output, nrow=args.n)
    print(f"\nwrote {path}: {len(labels)} rows (labels in the order above) x {args.n} samples, "
          "column j with the same noise z_j (seed 0)")


if __name__ == "__main__":
    main()
