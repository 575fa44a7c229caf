"""The site's menu: the core's pages, then every enabled module's pages, in load order."""

from __future__ import annotations

from collections.abc import Sequence

from flask import Flask, url_for

from geoplatform.modules import Module, Page

CORE_PAGES = (
    Page("城市地图", "City map", "features.landing"),
    Page("制图工作室", "Map studio", "site.studio"),
)


def install_site_menu(app: Flask, modules: Sequence[Module]) -> None:
    """Every template gets ``site_menu`` (site/_menu.html draws it)."""
    pages = (*CORE_PAGES, *(page for module in modules for page in module.pages))

    @app.context_processor
    def site_menu() -> dict:
        return {
            "site_menu": [
                {"title_zh": p.title_zh, "title_en": p.title_en, "url": url_for(p.endpoint)}
                for p in pages
            ]
        }
