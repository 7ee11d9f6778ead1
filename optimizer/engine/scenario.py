"""Scenario schema: what the planner asks for, validated before anything is computed.

A scenario is a YAML file. Land-use codes are strings taken from the data (SKK, SKN, TMD, …),
never hard-wired: YAML 1.1 turns unquoted ``01234`` into 668 and ``no`` into False, so every code
field is a strict string and such values are refused with a hint to quote them.
Unknown keys are errors, so a typo never silently drops a quota. The YAML itself is read strictly
(``strict_yaml``: duplicate keys, the decimal comma, deep nesting, alias bombs, non-finite numbers),
and every value is checked before anything is computed: colours are ``#rrggbb``, the CRS is one PROJ
resolves (projected, in metres), solver settings lie within what every solver accepts.
"""

from __future__ import annotations

import copy
import hashlib
import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError, field_validator, model_validator
from pyproj import CRS
from pyproj.exceptions import CRSError

from optimizer.engine.errors import InputError
from optimizer.engine.solvers import DEFAULT as DEFAULT_SOLVER
from optimizer.engine.solvers import solver_names
from optimizer.engine.strict_yaml import check_numbers, load_yaml
from optimizer.engine.suitability_schema import UseSuitability

Code = StrictStr


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class LandUse(_Strict):
    """One land-use code with the names and colour the reports and QGIS style use."""

    name_vi: str
    name_en: str
    colour: str = Field("#999999", pattern=r"^#[0-9A-Fa-f]{6}$", description="#rrggbb, as maps and the QGIS style use it")
    group: Literal["agricultural", "non_agricultural", "unused"]
    forest: bool = False


class FieldMap(_Strict):
    """Which columns of the parcel layer hold the core attributes."""

    id: str = "parcel_id"
    current_use: str = "current_use"
    district: str = "district"
    area_ha: str | None = Field(None, description="column with areas in ha; None: computed from geometry")


class CadastralReading(_Strict):
    """How a land office's own layer is read (``land_codes.py``): cadastral current-use codes mapped to the
    scenario's codes, and a parcel id made from sheet and parcel number where no single field is unique."""

    classification: Literal["vn"] = Field("vn", description="vn: the national classification and the crosswalk of "
                                          "earlier codes shipped in optimizer/engine/data/")
    combined: Literal["first"] = Field("first", description="ONT+CLN, LUK/LUC: the first code is the parcel's use")
    map: dict[Code, Code] = Field(default_factory=dict, description="the planner's own code → code, tried first")
    id_from: list[str] | None = Field(None, min_length=1, description="fields joined by '/' into `fields.id`, "
                                      "e.g. [SoTo, SoThua]: sheet and parcel number")


class ParcelSource(_Strict):
    path: str
    layer: str | None = None
    fields: FieldMap = FieldMap()
    admin_level: Literal["district", "commune"] = Field(
        "district", description="the unit `fields.district` holds: pre-2025 districts, or communes (since 1 July 2025 "
        "provinces and communes only); the report names its tables and maps after it")
    cadastral: CadastralReading | None = Field(None, description="read a land office's layer: codes, parcel ids")
    adjacency: Literal["rook", "queen"] = "rook"
    encoding: str | None = Field(None, description="text encoding of a Shapefile's .dbf when not UTF-8: cp1258 or tcvn3 "
                                    "(a .cpg saying 1258 is read as cp1258 without it)")
    repair: bool = Field(False, description="repair invalid geometries with make_valid instead of refusing them")
    overlap_tolerance_m2: float = Field(1.0, ge=0, description="parcels overlapping by more than this are refused")


class Region(_Strict):
    """Parcels whose attribute ``field`` takes one of ``values``."""

    field: str
    values: list[Code]


class Quota(_Strict):
    """An area band lo ≤ Σ area ≤ hi (ha) for one use, optionally within a region."""

    use: Code | None = Field(None, description="land-use code; defaults to the quota's key")
    lo: float | None = Field(None, ge=0)
    hi: float | None = Field(None, ge=0)
    region: Region | None = None
    source: str | None = Field(None, description="the plan's wording this quota encodes")

    @model_validator(mode="after")
    def _band(self) -> "Quota":
        if self.lo is None and self.hi is None:
            raise ValueError("a quota needs lo, hi or both")
        if self.lo is not None and self.hi is not None and self.lo > self.hi:
            raise ValueError(f"lo ({self.lo}) is greater than hi ({self.hi}); swap them or widen the band")
        return self


class ObjectiveTerm(_Strict):
    """weight × value × (area if per_ha), counted for every parcel converted to one of ``uses``.

    ``value`` comes from ``per_use[use]`` (a column per use), else ``column``, else 1.
    Only conversions count: keeping the current use contributes nothing, so the objective
    measures the plan's change.
    """

    weight: float = 1.0
    per_use: dict[Code, str] | None = None
    column: str | None = None
    uses: list[Code] | None = Field(None, description="uses the term applies to; default: all of `allocate`")
    per_ha: bool = True

    @model_validator(mode="after")
    def _one_source(self) -> "ObjectiveTerm":
        if self.per_use is not None and self.column is not None:
            raise ValueError("give either per_use or column, not both")
        return self


class Objective(_Strict):
    sense: Literal["maximize", "minimize"] = "maximize"
    terms: dict[str, ObjectiveTerm] = Field(default_factory=dict)


class SolverSettings(_Strict):
    name: Literal[solver_names()] = DEFAULT_SOLVER  # type: ignore[valid-type]  # the registry's names
    time_limit: float = Field(300.0, gt=0, le=1e7, description="seconds (at most 1e7, about 4 months)")
    gap: float = Field(1e-4, ge=0, lt=1, description="relative MIP gap at which to stop")
    threads: int = Field(1, ge=1, le=256)
    seed: int = Field(0, ge=0, le=2**31 - 1, description="a 32-bit seed, the range every solver accepts")
    options: dict[str, Any] = Field(default_factory=dict, description="solver-specific options (name → a number, "
                                    "flag or text), passed through")
    warm_start: bool = Field(True, description="HiGHS starts from a first plan: the myopic plan of a phased "
                                               "scenario (each period solved in turn), else the sites' greedy cores")

    @field_validator("options")
    @classmethod
    def _scalar_options(cls, v: dict[str, Any]) -> dict[str, Any]:
        for name, value in v.items():
            if not isinstance(value, (bool, int, float, str)):
                raise ValueError(f"option {name!r} is a {type(value).__name__}; a solver option is a number, "
                                 "true/false or text")
        return v


class DiagnosisSettings(_Strict):
    """How the infeasibility diagnosis relaxes soft rows: a penalty per unit of slack.

    Keys of ``weights`` are a family name (``forest_cover``) or ``family:key`` (``quota_area:SKK``);
    a higher weight means the row is relaxed only when nothing cheaper resolves the conflict.
    Families in ``never_relax`` keep their rows hard (strict protection is never a row: it is screened out).
    """

    weights: dict[str, float] = Field(default_factory=dict)
    default_weight: float = Field(1.0, gt=0)
    never_relax: list[str] = Field(default_factory=list)


class ExplainSettings(_Strict):
    marginal_values: bool = Field(True, description="price each binding row by the next parcel (one re-solve per row)")
    marginal_budget: float = Field(0.25, gt=0, description="all marginal re-solves together take at most this share "
                                                           "of the plan's solve time …")
    marginal_min_s: float = Field(2.0, ge=0, description="… or this many seconds, whichever is more")
    marginal_step: float = Field(0.0, ge=0, description="relax a binding bound by at least this much (in the row's "
                                                        "unit); by default by one parcel, the next achievable value")
    max_marginal_rows: int = Field(20, ge=0)
    marginal_time_limit: float | None = Field(None, gt=0, description="time limit (s) of each re-solve; default: "
                                              "the budget shared by the rows")


class Period(_Strict):
    """One planning horizon: its weight in the objective and what changes from the base scenario."""

    weight: float = Field(1.0, ge=0, description="objective weight (e.g. a discount factor) of this period")
    overrides: dict[str, Any] = Field(default_factory=dict, description="scenario fields that differ in this period "
                                      "(quotas, constraints.sites, …), merged over the base like `extends`")
    site_expansions: dict[str, str] = Field(default_factory=dict, description="site of this period → the site of the "
                                            "previous period it expands (and must contain)")


class OutputSettings(_Strict):
    dir: str | None = Field(None, description="default run directory when --out is not given")


class Scenario(_Strict):
    extends: str | None = Field(None, description="base scenario this one overrides (path relative to this file); "
                                "already merged when the model is validated")
    name: str
    title: str | None = None
    description: str | None = None
    crs: str = Field("EPSG:9210", description="projected CRS in which areas and distances are measured")
    parcels: ParcelSource
    land_uses: dict[Code, LandUse]
    allocate: list[Code] = Field(description="uses a parcel may be converted to; keeping the current use is always allowed")
    quotas: dict[str, Quota] = Field(default_factory=dict)
    constraints: dict[str, dict[str, Any]] = Field(default_factory=dict, description="family name → its config")
    suitability: dict[Code, UseSuitability] = Field(default_factory=dict, description="use → its suitability "
                                                    "score built from criteria (suitability_schema.py)")
    objective: Objective = Objective()
    solver: SolverSettings = SolverSettings()
    periods: dict[str, Period] | None = Field(None, description="planning horizons in order, e.g. \"2030\", \"2050\"; "
                                              "built stays built from one to the next")
    diagnosis: DiagnosisSettings = DiagnosisSettings()
    explain: ExplainSettings = ExplainSettings()
    output: OutputSettings = OutputSettings()
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("crs")
    @classmethod
    def _crs_resolves(cls, v: str) -> str:
        """Resolved by PROJ now, not at the first area computed: an unknown CRS is a bad input, not a crash."""
        try:
            crs = CRS.from_user_input(v)
        except CRSError as e:
            raise ValueError(f"{v!r} is not a CRS PROJ knows ({str(e).rsplit('proj_create: ', 1)[-1].rstrip(')')[:160]}); "
                             "give an EPSG code such as \"EPSG:9210\" (VN-2000 / TM-3 105°45′)") from None
        if not crs.is_projected:
            raise ValueError(f"{v} is not projected; areas and distances need a projected CRS such as EPSG:9210")
        units = {a.unit_name for a in crs.axis_info[:2]}
        if not units <= {"metre", "meter"}:
            raise ValueError(f"{v} measures in {', '.join(sorted(units))}; areas (ha) need a CRS in metres such as EPSG:9210")
        return v

    @field_validator("allocate")
    @classmethod
    def _allocate_unique(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("allocate lists a use twice")
        if not v:
            raise ValueError("allocate is empty: name at least one use parcels may be converted to")
        return v

    @model_validator(mode="after")
    def _codes_known(self) -> "Scenario":
        known = set(self.land_uses)
        for code in self.allocate:
            if code not in known:
                raise ValueError(f"allocate: use {code!r} is not in land_uses ({', '.join(sorted(known))})")
        for key, q in self.quotas.items():
            use = q.use or key
            if use not in self.allocate and use not in known:
                raise ValueError(f"quotas.{key}: use {use!r} is not in land_uses; set `use:` or add the code")
        for code in self.suitability:
            if code not in known:
                raise ValueError(f"suitability: use {code!r} is not in land_uses ({', '.join(sorted(known))})")
        for name, term in self.objective.terms.items():
            for code in list(term.per_use or {}) + list(term.uses or []):
                if code not in self.allocate:
                    raise ValueError(f"objective.terms.{name}: use {code!r} is not in allocate")
        return self

    def quota_use(self, key: str) -> str:
        return self.quotas[key].use or key


class LoadedScenario(BaseModel):
    """A validated scenario together with where it came from (paths resolve against ``base_dir``)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)
    scenario: Scenario
    path: Path | None
    base_dir: Path
    raw: dict[str, Any]
    sha256: str | None = None

    def resolve(self, relative: str, field: str) -> Path:
        """A path named in the scenario, relative to the scenario file; URLs are refused."""
        if "://" in relative:
            raise InputError(self.label, field, f"{relative!r} is a URL; landalloc reads local files only",
                             "download the layer and name its local path")
        p = Path(relative)
        return p if p.is_absolute() else (self.base_dir / p)

    @property
    def label(self) -> str:
        return str(self.path) if self.path else "<scenario>"


_HINTS = {
    "extra_forbidden": "remove it or check its spelling",
    "string_type": "quote the value in YAML, e.g. \"01234\"; unquoted codes turn into numbers",
    "missing": "add this field",
    "string_pattern_mismatch": "write it as #rrggbb, e.g. \"#d94a8c\"",
    "less_than_equal": "use a smaller value",
    "finite_number": "write a finite number",
}
_DECIMAL_COMMA = re.compile(r"^\s*[-+]?\d+,\d+\s*$")


def format_validation_error(label: str, err: ValidationError) -> InputError:
    """The first pydantic error as ``file: path.to.field: message (fix)``; the rest appended."""
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "<root>"
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "string_type" and e.get("input") is not None:
            msg = f"expected a string, got {e['input']!r} ({type(e['input']).__name__})"
        hint = _HINTS.get(e["type"])
        if isinstance(e.get("input"), str) and _DECIMAL_COMMA.match(e["input"]):
            hint = f"use a decimal point: {e['input'].strip().replace(',', '.')}"
        lines.append((loc, msg, hint))
    loc, msg, hint = lines[0]
    extra = "".join(f"\n  {lo}: {m}" + (f" (fix: {h})" if h else "") for lo, m, h in lines[1:])
    return InputError(label, loc, msg + extra, hint)


def _reject_non_string_keys(node: Any, path: str, label: str) -> None:
    """YAML mapping keys such as ``01234:`` become ints before pydantic sees them; catch that here."""
    if isinstance(node, dict):
        for k, v in node.items():
            if not isinstance(k, str):
                raise InputError(label, f"{path}{k!r}", f"key {k!r} is a {type(k).__name__}, not a string",
                                 "quote codes used as keys in YAML, e.g. \"01234\":")
            _reject_non_string_keys(v, f"{path}{k}.", label)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            _reject_non_string_keys(v, f"{path}{i}.", label)


def parse_scenario(raw: Any, label: str, base_dir: Path, path: Path | None = None, sha256: str | None = None) -> LoadedScenario:
    if not isinstance(raw, dict):
        raise InputError(label, None, "the scenario must be a YAML mapping", "start from an example in instances/")
    _reject_non_string_keys(raw, "", label)
    check_numbers(raw, label)
    try:
        scenario = Scenario.model_validate(raw)
    except ValidationError as err:
        raise format_validation_error(label, err) from None
    return LoadedScenario(scenario=scenario, path=path, base_dir=base_dir, raw=raw, sha256=sha256)


def _read_yaml(path: Path) -> tuple[Any, bytes]:
    label = str(path)
    if not path.exists():
        raise InputError(label, None, "scenario file not found", "check the path")
    if not path.is_file():
        raise InputError(label, None, "is not a regular file (a directory, device, pipe or socket)", "name a YAML file")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(label, f"byte {e.start}", "not UTF-8 text", "save the scenario as UTF-8") from None
    return load_yaml(text, label), data


def deep_merge(base: dict, override: dict) -> dict:
    """Mappings merge key by key; anything else in ``override`` replaces; ``null`` removes the key."""
    out = dict(base)
    for k, v in override.items():
        if v is None:
            out.pop(k, None)
        elif isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def _resolve_extends(path: Path, chain: tuple[Path, ...]) -> tuple[dict, str]:
    """The raw scenario with its ``extends:`` chain merged (base first); paths of a base are rebased
    so they stay relative to the file that named them. Returns (raw, combined sha256)."""
    raw, data = _read_yaml(path)
    if not isinstance(raw, dict):
        raise InputError(str(path), None, "the scenario must be a YAML mapping", "start from an example in instances/")
    _reject_non_string_keys(raw, "", str(path))  # before merging: an overlay's null would hide a key that is a number
    digest = hashlib.sha256(data)
    base_ref = raw.get("extends")
    if base_ref is None:
        return raw, digest.hexdigest()
    if not isinstance(base_ref, str):
        raise InputError(str(path), "extends", "must be a path to another scenario file", "quote the path")
    base_path = (path.parent / base_ref).resolve()
    if base_path in chain + (path,):
        cycle = " → ".join(str(p.name) for p in chain + (path, base_path))
        raise InputError(str(path), "extends", f"circular extends: {cycle}", "remove one of the extends links")
    base_raw, base_sha = _resolve_extends(base_path, chain + (path,))
    base_raw = _rebase_paths(base_raw, base_path.parent, path.parent)
    merged = deep_merge(base_raw, {k: v for k, v in raw.items() if k != "extends"})
    merged["extends"] = base_ref
    digest.update(base_sha.encode())
    return merged, digest.hexdigest()


_PATH_KEYS = ("path", "layer", "zone_layer", "districts_layer", "places_layer", "dir")


def _rebase_paths(node: Any, from_dir: Path, to_dir: Path) -> Any:
    """Relative file paths in a base scenario, rewritten relative to the extending file."""
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k in _PATH_KEYS and isinstance(v, str) and "://" not in v and not Path(v).is_absolute() and \
                    (from_dir / v).exists():
                out[k] = os.path.relpath(from_dir / v, to_dir)
            else:
                out[k] = _rebase_paths(v, from_dir, to_dir)
        return out
    if isinstance(node, list):
        return [_rebase_paths(v, from_dir, to_dir) for v in node]
    return node


def load_scenario(path: str | Path) -> LoadedScenario:
    """Read and validate a scenario YAML file (safe loader: no object construction), merging ``extends:``."""
    path = Path(path)
    raw, sha = _resolve_extends(path.resolve() if path.exists() else path, ())
    return parse_scenario(raw, str(path), path.parent.resolve(), path.resolve(), sha)


def apply_overrides(loaded: LoadedScenario, overrides: dict[str, Any]) -> LoadedScenario:
    """The scenario with dotted-path overrides (``solver.time_limit``, ``quotas.SKK.hi``) applied to its
    raw mapping and re-validated as a whole, so an override can never bypass the schema."""
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if not overrides:
        return loaded
    raw = copy.deepcopy(loaded.raw)
    for dotted, value in overrides.items():
        node = raw
        parts = dotted.split(".")
        for part in parts[:-1]:
            nxt = node.get(part) if isinstance(node, dict) else None
            if nxt is None:
                nxt = node[part] = {}
            if not isinstance(nxt, dict):
                raise InputError(loaded.label, dotted, f"{part!r} is not a mapping, cannot set {dotted}", "check the path")
            node = nxt
        node[parts[-1]] = value
    return parse_scenario(raw, loaded.label, loaded.base_dir, loaded.path, loaded.sha256)
