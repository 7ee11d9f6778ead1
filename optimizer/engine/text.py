"""Text as Vietnamese sources deliver it: one normal form before any comparison.

Sources mix composed and decomposed diacritics (``ắ`` as one code point or as ``a`` + two marks);
two spellings of one commune name must compare equal, so every name read from a layer or a scenario
goes through :func:`nfc` before it is matched.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import Any

import numpy as np


def nfc(value: Any) -> Any:
    """NFC for strings; anything else (numbers, None, NaN) unchanged."""
    return unicodedata.normalize("NFC", value) if isinstance(value, str) else value


def nfc_str(value: Any) -> str:
    """``str(value)`` in NFC, for keys that must be strings (zone classes, site and anchor names)."""
    return unicodedata.normalize("NFC", str(value))


def nfc_array(values: Iterable[Any]) -> np.ndarray:
    """An object array of :func:`nfc` values, for vectorized matching."""
    return np.array([nfc(v) for v in values], dtype=object)


def number(value: float, lang: str, digits: int = 2) -> str:
    """A number as a planner reads it: 1,234.56 in English, 1.234,56 in Vietnamese."""
    text = f"{value:,.{digits}f}"
    return text.translate(str.maketrans(",.", ".,")) if lang == "vi" else text


def fold(text: Any) -> str:
    """A name as a person matches it by eye: no accents (đ → d), lower case, letters and digits only —
    ``Tên_Xã`` == ``TENXA``, ``Cao Bằng`` == ``caobang``."""
    decomposed = unicodedata.normalize("NFD", str(text)).replace("đ", "d").replace("Đ", "D")
    return "".join(ch for ch in decomposed.lower() if ch.isalnum() and not unicodedata.combining(ch))
