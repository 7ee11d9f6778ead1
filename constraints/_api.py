"""What a constraint family is, and how the engine finds them.

A family is one module in ``constraints/`` that defines ``FAMILY = <Family subclass>``. It declares
its config schema, screens out (parcel, use) pairs with a reason, appends tagged rows/columns to the
model, and re-checks a decoded plan in ``verify`` from geometry and attributes — never from the
matrix, so a compile bug cannot hide behind its own check. Optional hooks let a family take part in
the pre-solve reachability check and in linking the periods of a phased plan; the engine calls them
for every family and knows none of their internals. Adding a family touches no other file. Private
helper modules start with ``_`` and are not families.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict, ValidationError

from optimizer.engine.errors import InputError
from optimizer.engine.instance import Instance
from optimizer.engine.layers import Geometry, read_scenario_layer
from optimizer.engine.model import CompiledModel, ModelBuilder
from optimizer.engine.scenario import LoadedScenario, Period, format_validation_error


class FamilyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def tolerance(bound: float) -> float:
    """How far a recomputed figure may miss ``bound`` and still meet it (1e-6 relative, at least
    1e-6): areas summed from geometry differ from the solver's in the last digits."""
    return 1e-6 * max(1.0, abs(bound))


@dataclass(frozen=True)
class Screen:
    """Pairs (parcels[i], use) ruled out before the model is built, with a reason per parcel."""

    parcels: np.ndarray
    use: str
    reason: np.ndarray | str


@dataclass(frozen=True)
class Violation:
    family: str
    key: str
    message: str
    parcels: tuple = ()

    def as_dict(self) -> dict[str, Any]:
        return {"family": self.family, "key": self.key, "message": self.message, "parcels": list(self.parcels)[:20]}


@dataclass(frozen=True)
class CompileContext:
    loaded: LoadedScenario
    instance: Instance
    columns: pd.DataFrame = field(repr=False)
    """the assignment columns x[parcel, use]: parcel, use, keep; the row label is the model column index"""

    def x_index(self, use: str) -> np.ndarray:
        """Column index of x[p, use] for every parcel p, or -1 where the pair is not in the model."""
        out = np.full(self.instance.n, -1, dtype=np.int64)
        sel = (self.columns["use"] == use).to_numpy()
        out[self.columns["parcel"].to_numpy()[sel]] = np.nonzero(sel)[0]
        return out


@dataclass(frozen=True)
class ReachabilityContext:
    """A compiled period as the pre-solve reachability check sees it: the assignment columns each row
    may use, and which of them are forced (their parcel has no other column)."""

    model: CompiledModel
    n_assign: int
    """the first n_assign columns are the x[parcel, use] assignment columns"""
    A: sp.csr_matrix = field(repr=False)
    forced: np.ndarray = field(repr=False)

    @classmethod
    def of(cls, model: CompiledModel, n_assign: int, n_parcels: int) -> "ReachabilityContext":
        parcel = model.columns["parcel"].to_numpy()[:n_assign]
        n_cols_per_parcel = np.bincount(parcel, minlength=n_parcels)
        return cls(model=model, n_assign=n_assign, A=model.A.tocsr(), forced=n_cols_per_parcel[parcel] == 1)

    def assignment_terms(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        """(assignment columns, coefficients) of one row; a family's own extra columns left out."""
        s, e = self.A.indptr[row], self.A.indptr[row + 1]
        idx, coef = self.A.indices[s:e], self.A.data[s:e]
        assign = idx < self.n_assign
        return idx[assign], coef[assign]


@dataclass(frozen=True)
class PeriodLink:
    """What a family may carry from one period of a phased plan to the next, passed explicitly: the
    earlier period's compiled model (its columns table says which family, parcel, use — and for
    labelled columns e.g. which site — each column is) and the later period's entry in the scenario's
    ``periods`` (including fields a family interprets, such as ``site_expansions``)."""

    instance: Instance
    earlier: CompiledModel
    period: Period


def match_columns(earlier: pd.DataFrame, later: pd.DataFrame, on: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(earlier column, matching later column or -1) for every row of ``earlier``; both tables hold
    ``on`` and ``col``, the model column index."""
    m = earlier.merge(later, on=on, how="left", suffixes=("_t", "_n"))
    return m["col_t"].to_numpy(dtype=np.int64), m["col_n"].fillna(-1).to_numpy(dtype=np.int64)


NO_LINKS = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
"""no nesting pairs: what ``Family.link_periods`` gives by default"""


@dataclass(frozen=True)
class Exclusion:
    """What a zone layer forbids, declared by the family as it reads the layer (``read_config_layer(…,
    exclusion=…)``), so that verify re-checks it against the zone geometry with its own spatial join
    (``optimizer/engine/verify.py``): a family whose screening or verify ignored the layer is still
    caught. In a zone whose ``class_field`` value is a key of ``forbidden``, no parcel overlapping it by
    at least ``min_overlap_m2`` may be converted to one of that key's uses."""

    class_field: str
    name_field: str
    forbidden: dict[str, tuple[str, ...]]
    min_overlap_m2: float = 1.0


@dataclass(frozen=True)
class VerifyContext:
    """A decoded plan: output geometry joined with the input parcel attributes by parcel id."""

    loaded: LoadedScenario
    allocation: gpd.GeoDataFrame
    area_ha: np.ndarray
    """areas recomputed from the output geometry (or the area field when the scenario maps one)"""


class Family:
    name: ClassVar[str]
    Config: ClassVar[type[FamilyConfig]]
    soft_able: ClassVar[bool] = False
    """whether the family's rows may be relaxed when diagnosing infeasibility"""

    def __init__(self, config: FamilyConfig, loaded: LoadedScenario):
        self.config = config
        self.loaded = loaded
        self.exclusions: dict[str, tuple[gpd.GeoDataFrame, Exclusion]] = {}
        """zone layers read with an exclusion declared: path → (the layer as read, what it forbids)"""

    @classmethod
    def raw_config(cls, loaded: LoadedScenario) -> Any | None:
        """Where the family's settings live in the scenario; None = family not active."""
        return loaded.scenario.constraints.get(cls.name)

    @classmethod
    def from_scenario(cls, loaded: LoadedScenario) -> "Family | None":
        raw = cls.raw_config(loaded)
        if raw is None:
            return None
        try:
            config = cls.Config.model_validate(raw)
        except ValidationError as err:
            e = format_validation_error(loaded.label, err)
            raise InputError(loaded.label, f"constraints.{cls.name}.{e.field}", e.message, e.fix) from None
        return cls(config, loaded)

    def prepare(self, instance: Instance) -> None:
        """Read what the family needs (layers, fields) once, validating it; called before screen/build."""

    def read_config_layer(self, relative: str, where: str, layer_name: str | None, what: str,
                          fields: dict[str, str] | None = None, *, geometry: Geometry = "any",
                          covers: bool = False, exclusion: Exclusion | None = None) -> gpd.GeoDataFrame:
        """A GIS layer the family's config names (``where``: the config key holding ``relative``), through
        the front door every input layer passes (``optimizer/engine/layers.py``): a regular local file GDAL
        reads, a plausible CRS, the ``geometry`` the family needs (``polygon``, ``point``, ``any``), valid
        (or repaired with ``--repair``), where the parcels are — ``covers``: the layer acts on the parcels
        it covers (zones), so its extent must meet theirs and covering none is a warning. A required
        field missing (``fields``: field name → the config key that names it) is named with its key.
        ``exclusion``: what the layer forbids, kept in ``self.exclusions`` for verify's own re-check."""
        gdf = read_scenario_layer(self.loaded, relative, where, layer_name, what, fields, geometry=geometry,
                                  covers=covers or exclusion is not None)
        if exclusion is not None:
            self.exclusions[str(self.loaded.resolve(relative, where))] = (gdf, exclusion)
        return gdf

    def input_paths(self) -> list:
        """Files the family reads, recorded with their sha256 in run.json."""
        return []

    def screen(self, instance: Instance) -> list[Screen]:
        return []

    def narrow(self, instance: Instance, has_column: dict[str, np.ndarray]) -> list[Screen]:
        """A second screening pass that depends on what every family's ``screen`` left: ``has_column[u]``
        says, per parcel, whether x[p, u] will exist (its current use, or an admitted conversion).
        The sites family uses it to place its candidate neighbourhoods and close conversions outside
        them before their columns exist."""
        return []

    def build(self, ctx: CompileContext, m: ModelBuilder) -> None:
        pass

    def start(self) -> tuple[np.ndarray, np.ndarray]:
        """A partial plan the solver may start from, as (model columns, values) set by the last
        ``build``; the solver completes or discards it, so it changes speed, never the answer."""
        return np.zeros(0, dtype=np.int64), np.zeros(0)

    def complete(self, x: np.ndarray) -> np.ndarray:
        """``x``, an integer plan of the last ``build``'s model, with the family's auxiliary columns set to
        the values that plan implies (e.g. compactness's z = y_i·y_j). An objective that pushes such a
        column to its value only at an optimum leaves it short in a plan stopped by a limit, which then
        understates its objective; the run completes every plan a solver returns instead of adding rows
        to pin it. Assignment columns are never changed. Default: ``x`` unchanged."""
        return x

    def verify(self, ctx: VerifyContext) -> list[Violation]:
        raise NotImplementedError

    def annotate(self, columns: pd.DataFrame, x: np.ndarray, plan: gpd.GeoDataFrame) -> None:
        """Write what the family decided into the plan layer (e.g. the ``site`` column), from its own columns."""

    def report(self, ctx: VerifyContext) -> dict[str, list[dict]]:
        """Per-key figures for run.json (e.g. ``quotas``, ``sites``); recomputed from the decoded plan."""
        return {}

    def objective_terms(self, ctx: VerifyContext) -> list[dict]:
        """The family's own objective terms (e.g. a compactness reward), recomputed from the plan's
        geometry so verify can check the solver's objective independently and the run can say what the
        objective is made of: ``{name, weight, quantity, unit, contribution}`` with contribution =
        weight · quantity in the objective's own sense."""
        return []

    def reachability(self, ctx: ReachabilityContext) -> list[dict]:
        """Before any solver runs: per row of the family, whether what screening left can meet it at
        all (``family``, ``key``, ``reachable``, ``shortfall`` and the numbers behind them), so an
        impossible bound is named with both figures instead of a bare "infeasible". None by default."""
        return []

    # Linking periods: class methods, called for every registered family with everything they need
    # passed in, so no state of one period's compile is kept on a family for the next.
    @classmethod
    def seed_period(cls, link: PeriodLink, later: LoadedScenario) -> dict:
        """Before the later period compiles: an overlay for its raw scenario (merged like ``extends``),
        e.g. an expanded site's candidates grown from its earlier site's. ``{}``: nothing to carry."""
        return {}

    @classmethod
    def link_periods(cls, link: PeriodLink, later: CompiledModel) -> tuple[np.ndarray, np.ndarray]:
        """After both periods compiled: pairs (earlier column, later column or -1) that must nest,
        x_earlier ≤ x_later; an earlier column without a later one can only be 0. None by default."""
        return NO_LINKS

    @classmethod
    def verify_periods(cls, period: Period, names: tuple[str, str], earlier: pd.DataFrame,
                       later: pd.DataFrame) -> list[Violation]:
        """From the decoded plans of two consecutive periods (``names``; both indexed by parcel_id,
        in the same order): the nesting the family's links promise, re-checked without the matrix."""
        return []


def _discover() -> dict[str, type[Family]]:
    """Every public module of this package that defines FAMILY, found by listing the package's folder
    (the families import this module, so it imports them by name, after it has loaded)."""
    found: dict[str, type[Family]] = {}
    for info in sorted(pkgutil.iter_modules([str(Path(__file__).parent)]), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__package__}.{info.name}")
        fam = getattr(module, "FAMILY", None)
        if fam is None:
            continue
        if fam.name in found:
            raise RuntimeError(f"two families named {fam.name!r}")
        found[fam.name] = fam
    return found


REGISTRY: dict[str, type[Family]] = {}


def registry() -> dict[str, type[Family]]:
    if not REGISTRY:
        REGISTRY.update(_discover())
    return REGISTRY


def active_families(loaded: LoadedScenario) -> list[Family]:
    reg = registry()
    unknown = sorted(set(loaded.scenario.constraints) - set(reg))
    if unknown:
        raise InputError(loaded.label, f"constraints.{unknown[0]}", "unknown constraint family",
                         f"use one of: {', '.join(sorted(reg))}")
    out = []
    for name in sorted(reg):
        fam = reg[name].from_scenario(loaded)
        if fam is not None:
            out.append(fam)
    return out
