"""The screening reasons of the allocation layer in Vietnamese (the layer's ``reason_vi`` column).

The families write their reasons in English (``constraints/*.py``, ``Screen(..., reason)``), and the
layer keeps them as they are in ``reason`` (a contract scripts rely on). A Vietnamese planner opening
the layer in QGIS, or the Vietnamese report, reads ``reason_vi``: every reason a family emits is one
pattern below, translated here and only here. Names inside a reason (zones, anchors, targets) are
data and stay as written; a reason no pattern knows is kept in English rather than guessed.

A parcel's reason is ``reason (USE, USE); reason (USE)`` (``optimizer/engine/decode.py``); each
part is translated and the uses are kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np

ZONE_CLASSES_VI = {
    "strict": "vùng bảo vệ nghiêm ngặt", "buffer": "vùng đệm", "core": "vùng lõi", "protection": "vùng bảo vệ",
    "restricted": "vùng hạn chế", "heritage": "vùng di sản", "landscape": "vùng cảnh quan",
}
"""Usual zone-class names of zoning layers in Vietnamese; another class reads ``vùng “<class>”``."""


def zone_class_vi(cls: str) -> str:
    return ZONE_CLASSES_VI.get(cls.strip().lower(), f"vùng “{cls}”")


def _km(text: str) -> str:
    """'2.5' → '2,5' (Vietnamese decimal comma) for the distances written with :g."""
    return text.replace(".", ",")


def _zone_or_parcel(target: str) -> str:
    """The target of an adjacency conflict: '<class> zone <name>' or 'current <use> (parcel <id>)'."""
    m = re.fullmatch(r"current (\S+) \(parcel (.+)\)", target)
    if m:
        return f"thửa {m.group(2)} đang là {m.group(1)}"
    m = re.fullmatch(r"(\S+) zone (.+)", target)
    if m:
        return f"{zone_class_vi(m.group(1))} {m.group(2)}"
    return target


def _in_zone(cls: str, names: str) -> str:
    """allowed_uses' '<class>: <zone names>'; a name that already says its class ('vùng đệm: Pác Bó')
    is not prefixed twice."""
    label = zone_class_vi(cls)
    return names if names.lower().startswith(label.lower()) else f"{label}: {names}"


_FAMILY_VI = {"proximity": "khoảng cách", "sites": "khu bố trí"}
_FARTHER_VI = {">": "xa hơn", "<": "gần hơn"}


# (pattern over one reason, translation): families' prefixes first, the zone-class form (allowed_uses) last
_PATTERNS: list[tuple[re.Pattern, object]] = [
    (re.compile(r"conflict: (\S+) within (\S+) m of (.+)"),
     lambda m: f"xung đột: {m.group(1)} trong phạm vi {_km(m.group(2))} m quanh {_zone_or_parcel(m.group(3))}"),
    (re.compile(r"(proximity|sites): ([<>]) (\S+) km from (.+)"),
     lambda m: f"{_FAMILY_VI[m.group(1)]}: {_FARTHER_VI[m.group(2)]} {_km(m.group(3))} km tính từ {m.group(4)}"),
    (re.compile(r"sites: beyond the anchor distance of every (\S+) site"),
     lambda m: f"khu bố trí: ngoài khoảng cách cho phép tới điểm neo của mọi khu {m.group(1)}"),
    (re.compile(r"sites: outside every (\S+) site's candidate neighbourhood"),
     lambda m: f"khu bố trí: ngoài vùng ứng viên của mọi khu {m.group(1)}"),
    (re.compile(r"([^:;()]+): (.+)"), lambda m: _in_zone(m.group(1), m.group(2))),
]


def reason_vi(reason: str) -> str:
    """One parcel's reason in Vietnamese: each '; '-separated part translated, its '(USE, …)' kept."""
    if not reason:
        return reason
    parts = []
    for part in reason.split("; "):
        m = re.fullmatch(r"(.*) (\([^()]*\))", part)
        text, uses = (m.group(1), " " + m.group(2)) if m else (part, "")
        for pattern, translate in _PATTERNS:
            hit = pattern.fullmatch(text)
            if hit:
                text = translate(hit)
                break
        parts.append(text + uses)
    return "; ".join(parts)


def reasons_vi(reasons: Iterable[str]) -> np.ndarray:
    """:func:`reason_vi` over a column, each distinct reason translated once."""
    values = np.asarray(list(reasons), dtype=object)
    cache = {r: reason_vi(r) for r in set(values.tolist())}
    return np.array([cache[r] for r in values.tolist()], dtype=object)
