"""``/docs``: Swagger UI served from the files of the ``swagger-ui-bundle-v2`` package, so the
API reference works on a machine without internet access (FastAPI's default loads it from a
CDN). ReDoc is not offered: no registry package ships its files."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

ASSETS = "/docs/assets"


def install_api_docs(app: FastAPI) -> None:
    """Mount Swagger UI's files and its page; the app must be built with ``docs_url=None``."""
    app.mount(ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="swagger-ui")

    @app.get("/docs", include_in_schema=False)
    def api_docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon-32x32.png",
            # No badge from the online validator (validator.swagger.io).
            swagger_ui_parameters={"validatorUrl": None},
        )
