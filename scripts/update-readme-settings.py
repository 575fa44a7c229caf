"""Rewrites the settings table in README.md from the typed settings (`make readme`)."""

import re
from pathlib import Path

from geoplatform.config import settings_reference

readme = Path(__file__).resolve().parent.parent / "README.md"
text = readme.read_text(encoding="utf-8")
block = f"<!-- settings -->\n{settings_reference()}\n<!-- /settings -->"
text = re.sub(r"<!-- settings -->.*?<!-- /settings -->", lambda _: block, text, flags=re.S)
readme.write_text(text, encoding="utf-8")
