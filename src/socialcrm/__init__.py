"""socialcrm: the social layer of a CRM (FastAPI, SQLAlchemy, Huey, Jinja pages).

Layers, bottom to top; a package imports only packages in lower layers (never sideways within
a layer, never upwards, function-level imports included):

    top    app.py, worker.py, wiring.py, cli.py, demo.py, all_models.py, web/ (composition)
    L5     engage
    L4     publishing
    L3     enrichment, listening
    L2     identity, discovery, signatures
    L1     crm, connections, audit
    L0     providers, tenancy
    base   core (incl. core/web)

The sandbox that imitates the networks is its own package, ``socialcrm_sandbox``, beside this
one; only the composition (cli.py, demo.py) and the tests use it.
"""

__version__ = "0.1.0"
