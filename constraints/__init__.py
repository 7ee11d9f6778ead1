"""Constraint families, one module each; see ``_api`` for the contract and the registry."""

from constraints._api import REGISTRY, Family, active_families, registry  # noqa: F401
