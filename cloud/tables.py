"""Every ORM table of the cloud, in one metadata: import this for migrations and tests."""

from __future__ import annotations

from cloud import (
    catalog_models,
    console_models,
    fleet_models,
    gateway_config_models,
    order_models,
    stock_models,
)
from cloud.models import Base

metadata = Base.metadata

__all__ = [
    "catalog_models",
    "console_models",
    "fleet_models",
    "gateway_config_models",
    "metadata",
    "order_models",
    "stock_models",
]
