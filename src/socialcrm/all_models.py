"""Imports every domain's tables so that ``Base.metadata`` is complete (migrations, tests)."""

from socialcrm.connections import models as connections_models
from socialcrm.core import audit, notify, outbox
from socialcrm.core.db import Base
from socialcrm.crm import models as crm_models
from socialcrm.discovery import models as discovery_models
from socialcrm.engage import models as engage_models
from socialcrm.enrichment import models as enrichment_models
from socialcrm.identity import models as identity_models
from socialcrm.listening import models as listening_models
from socialcrm.publishing import models as publishing_models
from socialcrm.signatures import models as signatures_models
from socialcrm.tenancy import models as tenancy_models

metadata = Base.metadata

__all__ = [
    "audit",
    "connections_models",
    "crm_models",
    "discovery_models",
    "engage_models",
    "enrichment_models",
    "identity_models",
    "listening_models",
    "metadata",
    "notify",
    "outbox",
    "publishing_models",
    "signatures_models",
    "tenancy_models",
]
