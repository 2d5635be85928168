"""Dtype names in MindSpore's spelling and dtype checks shared by transforms."""

from __future__ import annotations

import numpy as np

float16 = np.dtype("float16")
float32 = np.dtype("float32")
float64 = np.dtype("float64")
int8 = np.dtype("int8")
int16 = np.dtype("int16")
int32 = np.dtype("int32")
int64 = np.dtype("int64")
uint8 = np.dtype("uint8")
bool_ = np.dtype("bool")


def is_float_dtype(dtype) -> bool:
    """Floating or complex (numpy's 'inexact' kinds)."""
    return np.dtype(dtype).kind in "fc"


def default_array(data, dtype=None) -> np.ndarray:
    """Convert user data to an array: Python floats default to float32, as in MindSpore."""
    if dtype is not None:
        return np.asarray(data, dtype=np.dtype(dtype))
    if isinstance(data, np.ndarray):
        return data
    if isinstance(data, np.generic):
        return np.asarray(data)
    arr = np.asarray(data)
    if arr.dtype == np.float64:
        return arr.astype(np.float32)
    return arr
