"""The control rows of docs/results.md: real and noise images through the exact evaluation protocol.

Run from the repository root (the judge is loaded from, or trained into, the data cache):

    OMP_NUM_THREADS=1 python docs/results/controls.py > docs/results/controls.json
"""

from __future__ import annotations

import json
import sys

import torch

import cganzoo
from cganzoo.data import resize_images
from cganzoo.evaluation import evaluate_samples, uint8_to_unit_range


def main() -> None:
    data = cganzoo.create_dataset("mnist", log=lambda line: print(line, file=sys.stderr))
    gen = torch.Generator().manual_seed(0)
    test_x, test_y = data.test_images, data.test_labels
    # 1,000 training images per class from the first 50,000 (the Parzen validation images come after).
    idx = torch.cat([(data.labels[:50_000] == k).nonzero().flatten()[:1000] for k in range(10)])
    train_x, train_y = data.images[idx], data.labels[idx]
    controls = {
        "real test images (the test set itself)": (uint8_to_unit_range(test_x), test_y),
        "real test images, 28->32->28 round trip": (uint8_to_unit_range(resize_images(test_x, 32)), test_y),
        "real training images, 1,000 per class": (uint8_to_unit_range(train_x), train_y),
        "real training images, labels shuffled": (uint8_to_unit_range(train_x),
                                                  train_y[torch.randperm(train_y.numel(), generator=gen)]),
        "uniform noise in [-1, 1]": (torch.rand(10_000, 1, 28, 28, generator=gen) * 2 - 1, train_y),
    }
    out = {}
    for name, (images, labels) in controls.items():
        report = evaluate_samples(images, labels, data, log=lambda line: print(line, file=sys.stderr))
        out[name] = report.to_json()
        print(name, report.format_summary(), file=sys.stderr)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
