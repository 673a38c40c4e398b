"""Validation of condition labels ``y``, wherever they enter: data sets, the Python API, the CLI.

Out-of-range labels would otherwise surface as an opaque device-side assert
inside ``nn.Embedding`` (on CUDA) or as silently wrong one-hot codes, and
labels of another integer type as a crash deep inside training, so the core
checks and normalises labels where they enter.

One rule for every entry point:

* a label is an integer of any integer type (Python ``int``, a NumPy integer,
  a tensor of any integer dtype, ``uint8`` included), cast to ``int64``; as
  text, a plain decimal integer (``"3"``, ``"-1"``; not ``"1_0"`` or ``"3.0"``)
  or a class name;
* floats are refused, integral or not (``3.7`` must not quietly become class
  3), as are booleans;
* in a comma-separated list every item counts: an empty item (``"3,,4"``,
  ``",3"``, ``"3,"``) is an error, so positions in messages are the positions
  the user typed;
* every error is one line naming the item as given and its position (0-based).
"""

from __future__ import annotations

import operator
import re
from typing import Any, Sequence

import torch

from cganzoo.errors import LabelError

#: A label written as a number: optional sign, ASCII digits only (no "_", no Unicode digits, no decimal point).
_DECIMAL = re.compile(r"[+-]?[0-9]+")


def check_labels(y: torch.Tensor, num_classes: int, *, source: str = "labels") -> torch.Tensor:
    """Check that ``y`` holds valid class labels, and return them as int64.

    Args:
        y: Labels, a tensor of shape ``(B,)`` of any integer dtype (``uint8``,
            ``int16``, ``int32``, ``int64``...).
        num_classes: Valid labels are ``[0, num_classes)``.
        source: Where the labels came from, quoted in the error message.

    Returns:
        ``y`` itself if it is already int64, else ``y`` cast to int64 (same device).

    Raises:
        LabelError: ``y`` is not a tensor, has a floating-point, complex or
            bool dtype, is not 1-D, or holds a label outside
            ``[0, num_classes)``; the message names the first bad label and its position.
    """
    if not isinstance(y, torch.Tensor):
        raise LabelError(f"{source}: labels must be a torch.Tensor of an integer dtype, got {type(y).__name__}")
    if y.dtype.is_floating_point or y.dtype.is_complex or y.dtype == torch.bool:
        flat = y.reshape(-1)
        shown = ""
        if flat.numel():
            index = 0
            if y.dtype.is_floating_point:
                fractional = (flat != flat.trunc()).nonzero()
                index = int(fractional[0, 0]) if fractional.numel() else 0
            shown = f" (label {flat[index].item()!r} at position {index})"
        raise LabelError(
            f"{source}: labels must be an integer tensor (any integer dtype, used as int64), got dtype {y.dtype}"
            f"{shown}; class labels are never fractional: fix the data or cast it with .long() if it is integral"
        )
    if y.dim() != 1:
        raise LabelError(f"{source}: labels must have shape (B,), got {tuple(y.shape)}")
    if y.numel():
        bad = (y < 0) | (y >= num_classes)
        if bool(bad.any()):
            index = int(bad.nonzero()[0, 0])
            raise LabelError(
                f"{source}: label {int(y[index])} at position {index} is outside "
                f"[0, {num_classes}) (the data set has {num_classes} classes)"
            )
    return y if y.dtype == torch.int64 else y.to(torch.int64)


def split_label_list(text: str) -> list[str]:
    """Split ``"3,seven, 7"`` into its items, stripped; every item must hold something.

    Raises:
        LabelError: an empty item (``"3,,4"``, ``",3"``, ``"3,"``), named with its
            position; or no labels at all.
    """
    items = [part.strip() for part in text.split(",")]
    if not text.strip():
        raise LabelError("no labels given; name class indices or class names separated by commas, e.g. 3,7")
    for position, item in enumerate(items):
        if not item:
            raise LabelError(f"label at position {position} of {text!r} is empty; separate labels with single "
                             f"commas, e.g. 3,7")
    return items


def parse_label_items(labels: Sequence[Any] | str, num_classes: int, class_names: Sequence[str], *,
                      allow_text: bool = False, no_text_reason: str = "") -> list[int | str]:
    """Each label as a class index in ``[0, num_classes)``, or (``allow_text``) kept as free text.

    Args:
        labels: A comma-separated string, or a sequence of integers of any
            integer type, class names, or texts.
        num_classes: Valid indices are ``[0, num_classes)``.
        class_names: Names accepted for the classes (case-insensitive).
        allow_text: Keep items that are neither an index nor a class name as
            text (conditioners that encode text); otherwise they are errors.
        no_text_reason: Appended to the error for such an item.

    Returns:
        One entry per item, in order: ``int`` class indices and ``str`` texts.

    Raises:
        LabelError: an empty item, a float, a bool, a number outside
            ``[0, num_classes)``, or a text that names no class while
            ``allow_text`` is off; one line naming the item as given and its position.
    """
    no_labels = (f"no labels given; name class indices in [0, {num_classes}) or class names, "
                 f"e.g. 3,7 or {','.join(class_names[:2])}")
    if isinstance(labels, str) and not labels.strip():
        raise LabelError(no_labels)
    items: Sequence[Any] = split_label_list(labels) if isinstance(labels, str) else labels
    names = {name.lower(): i for i, name in enumerate(class_names)}
    accepted = f"a class index in [0, {num_classes}) or a class name ({', '.join(class_names)})"
    out: list[int | str] = []
    for position, item in enumerate(items):
        if isinstance(item, str):
            text = item.strip()
            if text.lower() in names:
                out.append(names[text.lower()])
                continue
            if _DECIMAL.fullmatch(text):
                out.append(_in_range(int(text), text, position, num_classes))
                continue
            if allow_text and text:
                out.append(text)
                continue
            if not text:
                raise LabelError(f"label at position {position} is empty; name {accepted}")
            raise LabelError(f"label {text!r} at position {position} is not {accepted}"
                             + (f"; {no_text_reason}" if no_text_reason else ""))
        out.append(_in_range(_as_index(item, position), item, position, num_classes))
    if not out:
        raise LabelError(no_labels)
    return out


def _shown(item: Any) -> str:
    """A label as the user would have written it: ``2.5`` for a NumPy or 0-dim tensor float too."""
    if isinstance(item, torch.Tensor) and item.dim() == 0:
        item = item.item()
    if hasattr(item, "item") and callable(item.item) and type(item).__module__ == "numpy":
        item = item.item()
    return str(item) if isinstance(item, (int, float)) else repr(item)


def _as_index(item: Any, position: int) -> int:
    """An integer of any integer type (Python, NumPy, 0-dim integer tensor) as ``int``; anything else refused."""
    if isinstance(item, bool) or (isinstance(item, torch.Tensor) and item.dtype == torch.bool):
        raise LabelError(f"label {_shown(item)} at position {position} is a bool, not a class index")
    if isinstance(item, torch.Tensor) and (item.dim() != 0 or item.dtype.is_floating_point):
        raise LabelError(f"label {_shown(item)} at position {position} is not an integer class index")
    try:
        return operator.index(item)
    except TypeError:
        pass
    kind = "a float" if isinstance(item, float) or type(item).__name__.startswith("float") else type(item).__name__
    raise LabelError(f"label {_shown(item)} at position {position} is {kind}, not an integer class index; labels are "
                     f"never rounded (3.7 is not class 3)")


def _in_range(value: int, shown: Any, position: int, num_classes: int) -> int:
    if not 0 <= value < num_classes:
        raise LabelError(f"label {shown} at position {position} is outside [0, {num_classes}) "
                         f"(the data set has {num_classes} classes)")
    return value
