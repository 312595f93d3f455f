"""/docs: the interactive reference of /v1/openapi.json, from the Swagger UI 5 distribution
packaged on PyPI (swagger-ui-py, whose static files alone are used), served by this
process: nothing loads from a CDN."""

from __future__ import annotations

from pathlib import Path

import swagger_ui
from aiohttp import web

ASSETS = Path(swagger_ui.__file__).parent / "static"
STATIC = "/docs/static"
# Only our own scripts and styles (Swagger UI sets inline styles, and its models are shown
# as data: images).
POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
          "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'")

PAGE = f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Mall integrations API</title>
  <link rel="stylesheet" href="{STATIC}/swagger-ui.css">
  <link rel="icon" type="image/png" href="{STATIC}/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="{STATIC}/swagger-ui-bundle.js"></script>
  <script src="{STATIC}/swagger-ui-standalone-preset.js"></script>
  <script src="/docs/start.js"></script>
</body>
</html>
"""

START = """window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "/v1/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "StandaloneLayout",
    validatorUrl: null,
    tryItOutEnabled: false,
  });
};
"""


async def docs_page(request: web.Request) -> web.Response:
    return web.Response(text=PAGE, content_type="text/html", charset="utf-8",
                        headers={"Content-Security-Policy": POLICY})


async def start_script(request: web.Request) -> web.Response:
    return web.Response(text=START, content_type="application/javascript", charset="utf-8")


def add_docs(app: web.Application) -> None:
    app.router.add_get("/docs", docs_page)
    app.router.add_get("/docs/start.js", start_script)
    app.router.add_static(STATIC, ASSETS, append_version=False)
