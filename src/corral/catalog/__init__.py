"""The catalog: which models exist, their tiers and licences, and where each is served."""

from corral.catalog.catalog import Catalog, ModelEntry, build_model_configs

__all__ = ["Catalog", "ModelEntry", "build_model_configs"]
