"""Vietnamese legacy text encodings of land-office attribute tables, decoded without GDAL's help.

Department layers (bản đồ hiện trạng, địa chính) still come as Shapefiles whose .dbf text is Windows-1258
or TCVN3 (the ".Vn" fonts of ABC). GDAL cuts the last character of each CP1258 value and cannot read
TCVN3 at all (CONVENTIONS.md), so the front door (``layers.open_layer``) reads the .dbf as Latin-1 —
byte-transparent: every byte becomes the code point of the same number — and this module turns those
bytes into Unicode NFC. :func:`guess` tells the encodings apart from the text itself when no .cpg says.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from optimizer.engine.text import nfc

# TCVN 5712:1993 "VN3" (the TCVN3/ABC fonts .VnTime, .VnArial): one byte per precomposed lower-case
# letter; an upper-case toned letter is the same byte set in the capitals font (.VnTimeH), so the byte
# itself only tells the lower-case letter. Seven upper-case base letters have their own bytes.
# Each row: the letter without tone, its own byte (or ''), then the bytes of grave, acute, hook, tilde, dot.
_TCVN3_ROWS = (
    ("a", "", "\xb5\xb8\xb6\xb7\xb9"),
    ("ă", "\xa8", "\xbb\xbe\xbc\xbd\xc6"),
    ("â", "\xa9", "\xc7\xca\xc8\xc9\xcb"),
    ("e", "", "\xcc\xd0\xce\xcf\xd1"),
    ("ê", "\xaa", "\xd2\xd5\xd3\xd4\xd6"),
    ("i", "", "\xd7\xdd\xd8\xdc\xde"),
    ("o", "", "\xdf\xe3\xe1\xe2\xe4"),
    ("ô", "\xab", "\xe5\xe8\xe6\xe7\xe9"),
    ("ơ", "\xac", "\xea\xed\xeb\xec\xee"),
    ("u", "", "\xef\xf3\xf1\xf2\xf4"),
    ("ư", "\xad", "\xf5\xf8\xf6\xf7\xf9"),
    ("y", "", "\xfa\xfd\xfb\xfc\xfe"),
)
_TONES = ("\u0300", "\u0301", "\u0309", "\u0303", "\u0323")  # huyền, sắc, hỏi, ngã, nặng
_TCVN3_CAPITALS = {"\xa1": "Ă", "\xa2": "Â", "\xa3": "Ê", "\xa4": "Ô", "\xa5": "Ơ", "\xa6": "Ư", "\xa7": "Đ", "\xae": "đ"}


def _tcvn3_table() -> dict[int, str]:
    table = {ord(k): v for k, v in _TCVN3_CAPITALS.items()}
    for letter, own, toned in _TCVN3_ROWS:
        if own:
            table[ord(own)] = letter
        for byte, tone in zip(toned, _TONES):
            table[ord(byte)] = unicodedata.normalize("NFC", letter + tone)
    return table


TCVN3_DECODE = _tcvn3_table()
TCVN3_ENCODE = {v: chr(k) for k, v in TCVN3_DECODE.items()}

ENCODINGS = ("utf-8", "cp1258", "tcvn3")
_ALIASES = {"utf8": "utf-8", "utf-8": "utf-8", "cp1258": "cp1258", "windows-1258": "cp1258", "windows1258": "cp1258",
            "1258": "cp1258", "ansi 1258": "cp1258", "tcvn3": "tcvn3", "tcvn": "tcvn3", "abc": "tcvn3"}


def canonical(encoding: str | None) -> str | None:
    """``cp1258`` for CP1258's many spellings (also a .cpg's ``1258``), ``tcvn3``, ``utf-8``; else the name as given."""
    if encoding is None:
        return None
    key = encoding.strip().lower().replace("_", "-")
    return _ALIASES.get(key, _ALIASES.get(key.replace("-", ""), encoding.strip()))


def decode_latin1(value, encoding: str):
    """A value read as Latin-1 (bytes as code points) decoded as ``cp1258`` or ``tcvn3``, in NFC."""
    if not isinstance(value, str):
        return value
    if encoding == "tcvn3":
        return nfc(value.translate(TCVN3_DECODE))
    return nfc(value.encode("latin-1").decode(encoding))


def encode_cp1258(text: str) -> bytes:
    """Unicode Vietnamese as Windows-1258 bytes: CP1258 has â ă ê ô ơ ư đ as letters but the five tones only
    as combining marks, so decompose, re-attach circumflex, breve and horn, and leave the tone separate."""
    out = []
    for base, marks in re.findall(r"(.)([\u0300-\u036f]*)", unicodedata.normalize("NFD", text), flags=re.S):
        letter = unicodedata.normalize("NFC", base + "".join(m for m in marks if m in "\u0302\u0306\u031b"))
        out.append(letter + "".join(m for m in marks if m not in "\u0302\u0306\u031b"))
    return "".join(out).encode("cp1258")


def encode_tcvn3(text: str) -> bytes:
    """Unicode Vietnamese as TCVN3 bytes (upper-case toned letters fall back to their lower-case byte, as
    the .VnTime/.VnTimeH font pair stores them)."""
    out = []
    for ch in unicodedata.normalize("NFC", text):
        byte = TCVN3_ENCODE.get(ch) or TCVN3_ENCODE.get(ch.lower())
        out.append(byte if byte is not None else ch)
    return "".join(out).encode("latin-1")


_VIETNAMESE_LETTERS = set("ÀÁÂÃÈÉÊÌÍÒÓÔÕÙÚÝàáâãèéêìíòóôõùúýĂăĐđĨĩŨũƠơƯư")


def _vietnamese_score(text: str) -> float:
    """Share of non-ASCII characters that are Vietnamese letters (not symbols or stray marks)."""
    letters = [ch for ch in text if ord(ch) > 127]
    if not letters:
        return 0.0
    good = sum(ch in _VIETNAMESE_LETTERS or "\u1ea0" <= ch <= "\u1ef9" for ch in letters)
    return good / len(letters)


def guess(latin1_values) -> str | None:
    """``cp1258`` or ``tcvn3`` when text read as Latin-1 decodes more plausibly that way; None for plain ASCII
    (nothing to decode) or when neither reading is Vietnamese."""
    text = "".join(v for v in latin1_values if isinstance(v, str))
    if not any(ord(ch) > 127 for ch in text):
        return None
    scores = {}
    for enc in ("cp1258", "tcvn3"):
        try:
            scores[enc] = _vietnamese_score(decode_latin1(text, enc))
        except UnicodeDecodeError:
            scores[enc] = 0.0
    best = max(scores, key=scores.get)
    return best if scores[best] >= 0.9 else None


def shapefile_declared(path: Path) -> str | None:
    """The encoding a Shapefile's .cpg declares (``cp1258``, ``utf-8`` …), or None when there is no .cpg."""
    if path.suffix.lower() != ".shp":
        return None
    for cpg in (path.with_suffix(".cpg"), path.with_suffix(".CPG")):
        if cpg.is_file():
            return canonical(cpg.read_text(encoding="ascii", errors="replace").strip())
    return None
