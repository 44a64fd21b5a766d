"""`/docs` and `/redoc` never make the operator's browser load anything from another host."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from corral.api.app import create_app
from corral.errors import ConfigError
from corral.settings import DOCS_ASSET_FILES
from tests.support import echo_entry, in_process_services

LINKED = re.compile(r"""(?:src|href|url)\s*[=:(]\s*['"]?([^'"\s)>]+)""")


@asynccontextmanager
async def client(home: Path, **server: object) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(in_process_services(home, echo_entry(), server=server))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://corral"
    ) as http:
        yield http


@pytest.fixture
def assets(tmp_path: Path) -> Path:
    folder = tmp_path / "docs-assets"
    folder.mkdir()
    for name in DOCS_ASSET_FILES:
        (folder / name).write_text(f"/* {name} */")
    return folder


async def test_no_pages_by_default_but_the_openapi_document(tmp_path: Path) -> None:
    async with client(tmp_path) as http:
        assert (await http.get("/docs")).status_code == 404
        assert (await http.get("/redoc")).status_code == 404
        assert (await http.get("/openapi.json")).status_code == 200


async def test_pages_over_local_assets_link_only_this_server(tmp_path: Path, assets: Path) -> None:
    async with client(tmp_path / "home", api_docs_assets=str(assets)) as http:
        for page in ("/docs", "/redoc"):
            response = await http.get(page)
            assert response.status_code == 200
            links = LINKED.findall(response.text)
            assert links, f"{page} links its scripts"
            assert all(link.startswith("/") and not link.startswith("//") for link in links), links
            assert "http://" not in response.text and "https://" not in response.text
            for link in links:
                if link.endswith((".js", ".css")):
                    assert (await http.get(link)).status_code == 200, link


def test_an_assets_directory_without_the_files_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"lacks .*redoc\.standalone\.js"):
        in_process_services(tmp_path, echo_entry(), server={"api_docs_assets": str(tmp_path)})
