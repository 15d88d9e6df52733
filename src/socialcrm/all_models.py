"""Imports every domain's tables so that ``Base.metadata`` is complete (migrations, tests)."""

from socialcrm.connections import models as connections_models
from socialcrm.core import audit, notify
from socialcrm.core.db import Base
from socialcrm.crm import models as crm_models
from socialcrm.tenancy import models as tenancy_models

metadata = Base.metadata

__all__ = ["audit", "connections_models", "crm_models", "metadata", "notify", "tenancy_models"]
