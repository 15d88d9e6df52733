"""The web kit every domain's pages and routes use: request contexts (who is calling, a unit of
work scoped to their tenant), CSRF, rendering (templates, static files), forms, notices, SSE and
charts. It imports nothing from socialcrm outside ``core``."""
