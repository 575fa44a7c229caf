"""SDF glyph ranges for MapLibre labels, rendered from installed fonts and cached on disk.

MapLibre draws text from signed distance fields fetched in ranges of 256 code points, each a
protobuf in the format of node-fontnik (24 px em, 3 px border, edge at 192 of 255, 8 px of
distance per 256 levels). FreeType's own SDF renderer computes the distances from the outlines;
this module only crops and rescales them to that encoding. A range is rendered once (about two
seconds for a full range of ideographs) and then read from disk by every worker.
"""

from __future__ import annotations

import ctypes
import os
import re
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import freetype
import numpy as np
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from geoplatform.config import REPO_ROOT
from geoplatform.errors import InvalidParameter, NotFound
from geoplatform.styles import FONT_BOLD, FONT_REGULAR

RANGE_SIZE = 256
MAX_CODEPOINT = 0xFFFF
DEFAULT_CACHE_DIR = REPO_ROOT / "var" / "glyphs"
FONT_DIRS = (Path("/usr/share/fonts"),)

# The conventions MapLibre's shaders and layout assume (node-fontnik's, kept by every generator).
EM_PX = 24
BORDER_PX = 3
EDGE_VALUE = 192
LEVELS_PER_PX = 256 / 8
# FreeType's distance range; must reach past the border's corners (3·√2 px) outside the outline.
SPREAD_PX = 6

_RANGE = re.compile(r"^(\d{1,7})-(\d{1,7})$")


@dataclass(frozen=True)
class FontFile:
    """A face MapLibre may ask for by ``fontstack``, found in a file a Debian package installs."""

    fontstack: str
    file_name: str
    family: str


# fonts-noto-cjk: the Simplified Chinese face of the collection also covers Latin and Cyrillic,
# so one font labels both Chinese and foreign names.
FONTS = (
    FontFile(FONT_REGULAR, "NotoSansCJK-Regular.ttc", "Noto Sans CJK SC"),
    FontFile(FONT_BOLD, "NotoSansCJK-Bold.ttc", "Noto Sans CJK SC"),
)


def parse_range(text: str) -> int:
    """The start of a ``{start}-{end}`` glyph range; InvalidParameter unless it is a whole range."""
    match = _RANGE.match(text)
    if match:
        start, end = int(match[1]), int(match[2])
        if start % RANGE_SIZE == 0 and end == start + RANGE_SIZE - 1 and end <= MAX_CODEPOINT:
            return start
    raise InvalidParameter(
        f"glyph range {text!r} must be '{{start}}-{{end}}' with start a multiple of "
        f"{RANGE_SIZE}, end = start + {RANGE_SIZE - 1} and end <= {MAX_CODEPOINT}, e.g. 0-255"
    )


class GlyphStore:
    """Resolves fontstacks to installed fonts and serves their ranges, rendering each only once."""

    def __init__(
        self,
        cache_dir: Path = DEFAULT_CACHE_DIR,
        fonts: tuple[FontFile, ...] = FONTS,
        font_dirs: tuple[Path, ...] = FONT_DIRS,
    ) -> None:
        self.cache_dir = cache_dir
        self._fonts = fonts
        self._font_dirs = font_dirs
        self._faces: dict[str, tuple[Path, int]] | None = None
        # FreeType's library object is shared by the process and is not thread-safe.
        self._render_lock = threading.Lock()

    def fontstacks(self) -> list[str]:
        """Names of the fonts that are installed on this machine."""
        return list(self._installed())

    def resolve(self, fontstack: str) -> str:
        """The first installed font of a comma-separated stack (MapLibre joins ``text-font``)."""
        installed = self._installed()
        for name in (part.strip() for part in fontstack.split(",")):
            if name in installed:
                return name
        raise NotFound(f"no font {fontstack!r}; available: {', '.join(installed) or 'none'}")

    def glyph_range(self, fontstack: str, start: int) -> bytes:
        """The protobuf of glyphs start..start+255 of the stack's first installed font."""
        name = self.resolve(fontstack)
        path = self.cache_dir / name / f"{start}-{start + RANGE_SIZE - 1}.pbf"
        try:
            return path.read_bytes()
        except FileNotFoundError:
            pass
        font_path, face_index = self._installed()[name]
        with self._render_lock:
            data = render_range(font_path, face_index, name, start)
        _write_atomically(path, data)
        return data

    def _installed(self) -> dict[str, tuple[Path, int]]:
        if self._faces is None:
            self._faces = {}
            for font in self._fonts:
                located = _locate(font, self._font_dirs)
                if located:
                    self._faces[font.fontstack] = located
        return self._faces


def render_range(font_path: Path, face_index: int, fontstack: str, start: int) -> bytes:
    """Glyphs of code points start..start+255 that the face has, as a glyphs protobuf."""
    _set_sdf_spread(SPREAD_PX)
    face = freetype.Face(str(font_path), face_index)
    face.set_pixel_sizes(0, EM_PX)
    ascender = face.size.ascender / 64
    end = start + RANGE_SIZE - 1
    message = GlyphsMessage()
    stack = message.stacks.add(name=fontstack, range=f"{start}-{end}")
    for codepoint in range(start, end + 1):
        glyph_index = face.get_char_index(codepoint)
        if glyph_index:
            _add_glyph(stack.glyphs.add(), face, glyph_index, codepoint, ascender)
    return message.SerializeToString()


def _add_glyph(glyph, face: freetype.Face, glyph_index: int, codepoint: int, ascender: float):
    face.load_glyph(glyph_index, freetype.FT_LOAD_NO_HINTING | freetype.FT_LOAD_NO_BITMAP)
    slot = face.glyph
    glyph.id = codepoint
    glyph.advance = round(slot.metrics.horiAdvance / 64)
    glyph.width = glyph.height = glyph.left = 0
    glyph.top = int(-ascender)
    if slot.outline.n_points == 0:
        return
    slot.render(freetype.FT_RENDER_MODE_SDF)
    bitmap = slot.bitmap
    if bitmap.width <= 2 * SPREAD_PX or bitmap.rows <= 2 * SPREAD_PX:
        return
    field = np.frombuffer(bytes(bitmap.buffer), dtype=np.uint8)
    field = field.reshape(bitmap.rows, bitmap.pitch)[:, : bitmap.width]
    # FreeType pads the glyph's pixel box by the spread; MapLibre wants a 3 px border.
    margin = SPREAD_PX - BORDER_PX
    field = field[margin : bitmap.rows - margin, margin : bitmap.width - margin]
    glyph.width = bitmap.width - 2 * SPREAD_PX
    glyph.height = bitmap.rows - 2 * SPREAD_PX
    glyph.left = slot.bitmap_left + SPREAD_PX
    glyph.top = int(slot.bitmap_top - SPREAD_PX - ascender)
    glyph.bitmap = _fontnik_levels(field).tobytes()


def _fontnik_levels(field: np.ndarray) -> np.ndarray:
    """FreeType's 8-bit field (128 at the edge, ±spread px) in MapLibre's levels."""
    inside_px = (field.astype(np.float32) - 128) / 128 * SPREAD_PX
    return np.clip(np.floor(EDGE_VALUE + inside_px * LEVELS_PER_PX), 0, 255).astype(np.uint8)


def _set_sdf_spread(pixels: int) -> None:
    value = ctypes.c_int(pixels)
    error = freetype.FT_Property_Set(freetype.get_handle(), b"sdf", b"spread", ctypes.byref(value))
    if error:
        raise RuntimeError(f"FreeType refused SDF spread {pixels} (error {error})")


def _locate(font: FontFile, font_dirs: tuple[Path, ...]) -> tuple[Path, int] | None:
    for directory in font_dirs:
        for path in sorted(directory.rglob(font.file_name)):
            count = freetype.Face(str(path)).num_faces
            for index in range(count):
                if freetype.Face(str(path), index).family_name.decode() == font.family:
                    return path, index
    return None


def _write_atomically(path: Path, data: bytes) -> None:
    # Several workers may render the same range at once; each renames a complete file into place.
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _glyphs_message_class():
    """The message classes of MapLibre's glyphs.proto (package llmr.glyphs), built at import."""
    field = descriptor_pb2.FieldDescriptorProto
    proto = descriptor_pb2.FileDescriptorProto(
        name="glyphs.proto", package="llmr.glyphs", syntax="proto2"
    )
    specs = {
        "glyph": (
            ("id", 1, field.TYPE_UINT32, field.LABEL_REQUIRED, None),
            ("bitmap", 2, field.TYPE_BYTES, field.LABEL_OPTIONAL, None),
            ("width", 3, field.TYPE_UINT32, field.LABEL_REQUIRED, None),
            ("height", 4, field.TYPE_UINT32, field.LABEL_REQUIRED, None),
            ("left", 5, field.TYPE_SINT32, field.LABEL_REQUIRED, None),
            ("top", 6, field.TYPE_SINT32, field.LABEL_REQUIRED, None),
            ("advance", 7, field.TYPE_UINT32, field.LABEL_REQUIRED, None),
        ),
        "fontstack": (
            ("name", 1, field.TYPE_STRING, field.LABEL_REQUIRED, None),
            ("range", 2, field.TYPE_STRING, field.LABEL_REQUIRED, None),
            ("glyphs", 3, field.TYPE_MESSAGE, field.LABEL_REPEATED, ".llmr.glyphs.glyph"),
        ),
        "glyphs": (
            ("stacks", 1, field.TYPE_MESSAGE, field.LABEL_REPEATED, ".llmr.glyphs.fontstack"),
        ),
    }
    for message_name, fields in specs.items():
        message = proto.message_type.add(name=message_name)
        for name, number, kind, label, type_name in fields:
            added = message.field.add(name=name, number=number, type=kind, label=label)
            if type_name:
                added.type_name = type_name
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("llmr.glyphs.glyphs"))


GlyphsMessage = _glyphs_message_class()
