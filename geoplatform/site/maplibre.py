"""MapLibre GL JS as npm installed it (``make node``): where it is and which files the page loads.

The files are served from ``node_modules`` as the lock file pins them, never from a CDN. Their URL
carries the package version, so they can be cached for a year: a new version is a new URL.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

NODE_MODULES = Path(__file__).resolve().parents[2] / "node_modules"
# The ES module, the worker it starts from its own directory, and the stylesheet.
FILES = ("maplibre-gl.mjs", "maplibre-gl-worker.mjs", "maplibre-gl.css")


@dataclass(frozen=True)
class MapLibreDist:
    package: Path

    @property
    def dist(self) -> Path:
        return self.package / "dist"

    def version(self) -> str | None:
        try:
            return json.loads((self.package / "package.json").read_text())["version"]
        except (OSError, ValueError, KeyError):
            return None

    def missing_files(self) -> list[str]:
        return [name for name in FILES if not (self.dist / name).is_file()]

    def problem(self) -> str | None:
        """Why the page cannot load MapLibre, or None when it can."""
        missing = self.missing_files()
        if not missing and self.version():
            return None
        return (
            f"MapLibre GL JS is not installed: {', '.join(missing) or 'package.json'} missing "
            f"under {self.package}. Run `make node` (npm ci) in the project directory."
        )


def find_maplibre(node_modules: Path = NODE_MODULES) -> MapLibreDist:
    """The installed package; logs at start-up when it is missing, so the reason is in the log."""
    maplibre = MapLibreDist(node_modules / "maplibre-gl")
    problem = maplibre.problem()
    if problem:
        logger.error(problem)
    return maplibre
