"""Small helpers turning closed bars into numpy arrays for the batch indicators."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from optbot.core.events import Bar

FloatArray = npt.NDArray[np.float64]


def closes(bars: Sequence[Bar]) -> FloatArray:
    return np.array([bar.close for bar in bars], dtype=np.float64)


def highs(bars: Sequence[Bar]) -> FloatArray:
    return np.array([bar.high for bar in bars], dtype=np.float64)


def lows(bars: Sequence[Bar]) -> FloatArray:
    return np.array([bar.low for bar in bars], dtype=np.float64)


def volumes(bars: Sequence[Bar]) -> FloatArray:
    return np.array([float(bar.volume) for bar in bars], dtype=np.float64)


def last_finite(values: FloatArray) -> float | None:
    finite = values[np.isfinite(values)]
    return float(finite[-1]) if finite.size else None
