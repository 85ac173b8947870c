"""The one conversion of Python and numpy values to plain JSON types.

Events, the summary and the session file all store JSON; numpy scalars and arrays, tuples,
dataclasses, sets and paths become lists, numbers and strings here. JSON has no NaN: a
non-finite number becomes null, unless the caller stores it verbatim (the session file).
"""

from __future__ import annotations

import dataclasses
import math
from numbers import Integral, Real
from pathlib import Path

import numpy as np


def plain(value, *, digits: int | None = None, keep_nan: bool = False, where: str = "value"):
    """`value` as dicts, lists, str, int, float, bool and None only.

    digits: round floats to this many decimals. keep_nan: keep NaN and infinities (for
    `json.dumps(allow_nan=True)`); otherwise they become None. Anything else raises
    TypeError naming `where` (the path inside value that could not be converted).
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Real):
        value = float(value)
        if not math.isfinite(value):
            return value if keep_nan else None
        return round(value, digits) if digits is not None else value
    if isinstance(value, dict):
        return {str(k): plain(v, digits=digits, keep_nan=keep_nan, where=f"{where}.{k}")
                for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [plain(v, digits=digits, keep_nan=keep_nan, where=f"{where}[{i}]")
                for i, v in enumerate(value)]
    if isinstance(value, (set, frozenset)):
        return sorted(plain(v, digits=digits, keep_nan=keep_nan, where=where) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return plain(dataclasses.asdict(value), digits=digits, keep_nan=keep_nan, where=where)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{where}: a {type(value).__name__} cannot be written as JSON")
