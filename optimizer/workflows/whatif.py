"""Scenario variants: dotted-path overrides (``quotas.SKK.hi=250``) applied to a loaded scenario.

Used by ``landalloc whatif`` (``--set`` items) and ``landalloc sweep`` (grid points). Every path is
checked against the scenario schema before anything is solved, so a typo is an error naming the
item instead of a silently added key:

* a segment inside a schema model must be one of its fields (``solver.thread`` is refused);
* a segment inside a mapping of named entries (``quotas``, ``objective.terms``, ``land_uses``,
  ``constraints``) must name an existing entry, unless the path ends there and the value is the
  whole new entry (``--set 'quotas.TMD2={use: TMD, hi: 30}'``);
* lists are replaced whole (``--set 'allocate=[SKK, TMD]'``); free-form family configs
  (``constraints.NAME.…``) are validated by the family itself.

Values are YAML (safe loader): ``=250`` is a number, ``='"01234"'`` a string, ``=null`` removes the
key (an upper bound, an optional setting). The merged variant is re-validated as a whole.
"""

from __future__ import annotations

import copy
import types
import typing
from typing import Any

import yaml
from pydantic import BaseModel

from optimizer.engine.errors import InputError
from optimizer.engine.run import RunOutcome, solve_scenario
from optimizer.engine.strict_yaml import load_yaml
from optimizer.engine.scenario import LoadedScenario, Scenario, parse_scenario

_MISSING = object()


def parse_set_item(item: str) -> tuple[str, Any]:
    """``'quotas.SKK.hi=250'`` → ``('quotas.SKK.hi', 250)``; the value is parsed as YAML."""
    if "=" not in item:
        raise InputError(f"--set {item}", None, "expected PATH=VALUE", "e.g. --set quotas.SKK.hi=250")
    path, _, text = item.partition("=")
    path = path.strip()
    if not path or any(not p for p in path.split(".")):
        raise InputError(f"--set {item}", None, f"{path!r} is not a dotted path", "e.g. quotas.SKK.hi")
    value = load_yaml(text, f"--set {item}") if text.strip() else None  # strict, as scenario files are
    return path, value


def parse_set_items(items: list[str] | tuple[str, ...]) -> tuple[dict[str, Any], dict[str, str]]:
    """``--set`` items → ({path: value}, {path: '--set ITEM'} for error messages)."""
    out: dict[str, Any] = {}
    labels: dict[str, str] = {}
    for item in items:
        path, value = parse_set_item(item)
        if path in out:
            raise InputError(f"--set {item}", path, "set twice", "give each path once")
        out[path] = value
        labels[path] = f"--set {item}"
    return out, labels


def _unwrap(ann: Any) -> Any:
    """``X | None`` → X; ``Annotated``/aliases left as they are."""
    origin = typing.get_origin(ann)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(ann) if a is not type(None)]
        return args[0] if len(args) == 1 else ann
    return ann


def check_path(raw: dict, dotted: str) -> None:
    """Raise ValueError (a planner-readable message) when ``dotted`` cannot address a scenario field."""
    parts = dotted.split(".")
    ann: Any = Scenario
    node: Any = raw
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        prefix = ".".join(parts[:i]) or "<scenario>"
        ann = _unwrap(ann)
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            fields = ann.model_fields
            if part not in fields:
                raise ValueError(f"{prefix} has no field {part!r} (fields: {', '.join(fields)})")
            ann = fields[part].annotation
        elif typing.get_origin(ann) is dict:
            existing = node if isinstance(node, dict) else {}
            if part not in existing and not last:
                names = ", ".join(map(str, existing)) or "none"
                raise ValueError(f"{prefix} has no entry {part!r} (existing: {names}); to add one, set the whole "
                                 f"entry, e.g. --set '{prefix}.{part}={{…}}'")
            ann = typing.get_args(ann)[1] if typing.get_args(ann) else Any
            if ann is Any:  # a free-form mapping (a family's config, solver options): validated downstream
                return
        elif ann is Any:
            return
        else:
            kind = getattr(typing.get_origin(ann) or ann, "__name__", str(ann))
            raise ValueError(f"{prefix} is a {kind}, not a mapping; set it whole (--set '{prefix}=…')")
        node = node.get(part, _MISSING) if isinstance(node, dict) else _MISSING


def _set(raw: dict, dotted: str, value: Any) -> None:
    node = raw
    parts = dotted.split(".")
    for part in parts[:-1]:
        nxt = node.get(part)
        if not isinstance(nxt, dict):
            nxt = node[part] = {}
        node = nxt
    if value is None:
        node.pop(parts[-1], None)
    else:
        node[parts[-1]] = copy.deepcopy(value)


def _label(path: str, value: Any, source: str) -> str:
    return f"{source} {path}={yaml.safe_dump(value, default_flow_style=True, allow_unicode=True).strip().removesuffix('...').strip()}"


def _validate(loaded: LoadedScenario, raw: dict) -> LoadedScenario:
    return parse_scenario(raw, loaded.label, loaded.base_dir, loaded.path, loaded.sha256)


def make_variant(loaded: LoadedScenario, overrides: dict[str, Any], source: str = "--set",
                 drop: tuple[str, ...] = (), labels: dict[str, str] | None = None) -> LoadedScenario:
    """``loaded`` with ``overrides`` ({dotted path: value}) applied and re-validated as a whole.

    An unknown path or a value the schema refuses is an :class:`InputError` naming the item
    (``--set quotas.SKK.hi=abc``); ``source`` is how items are named (``--set``, ``grid point 3:``).
    ``drop``: top-level keys removed from the variant (whatif drops ``output`` so it never writes
    into the base scenario's run directory). ``labels``: path → how to name that item in errors
    (default ``SOURCE path=value``).
    """
    labels = labels or {}

    def name(p: str) -> str:
        return labels.get(p) or _label(p, overrides[p], source)

    raw = copy.deepcopy(loaded.raw)
    for key in drop:
        raw.pop(key, None)
    for path, value in overrides.items():
        try:
            check_path(raw, path)
        except ValueError as e:
            raise InputError(name(path), None, str(e), "check the path against the scenario") from None
        _set(raw, path, value)
    if not overrides and not drop:
        return loaded
    try:
        return _validate(loaded, raw)
    except InputError as err:
        culprit = _culprit(loaded, overrides, err, drop)
        names = ", ".join(name(p) for p in culprit) or source
        raise InputError(names, err.field, err.message,
                         err.fix or "check the value against the scenario schema") from None


def _culprit(loaded: LoadedScenario, overrides: dict[str, Any], err: InputError, drop: tuple[str, ...]) -> list[str]:
    """The override(s) to blame for a validation error: the one whose path the error names, else
    those that fail on their own, else all of them."""
    loc = err.field or ""
    named = [p for p in overrides if loc == p or loc.startswith(p + ".") or p.startswith(loc + ".")]
    if named and loc:
        return named
    alone = []
    for p, v in overrides.items():
        raw = copy.deepcopy(loaded.raw)
        for key in drop:
            raw.pop(key, None)
        _set(raw, p, v)
        try:
            _validate(loaded, raw)
        except InputError:
            alone.append(p)
    return alone or list(overrides)


def solve_variant(loaded: LoadedScenario, out, extra: dict[str, Any], **kwargs) -> RunOutcome:
    """``solve_scenario`` with ``extra`` keys (``overrides``, ``sweep``) in run.json, written with the
    run itself: the run directory never holds a run.json without them."""
    return solve_scenario(loaded, out, extra=extra, **kwargs)
