"""The images an issue shows, sized and weighed for the email (Pillow; cairosvg for SVG).

:func:`survey` reads every local image the bodies use (their ``<img>`` elements, as
:func:`pipeline.markup.render` resolved them) and says, for each, the size it is shown at in the
email (at most the column, keeping its proportions) and what the email loads:

- the original, when it is at most twice the column wide (sharp enough on a 2x screen);
- a derivative at twice the column width, when it is wider: PNG kept lossless, JPEG and WebP
  re-encoded (quality :data:`JPEG_QUALITY`, :data:`WEBP_QUALITY`), an animated GIF resized
  frame by frame (Outlook for Windows shows its first frame, which is kept as it is);
- for an SVG (which most email clients do not show), a PNG rasterised at twice the size it is
  shown at; the web edition keeps the SVG.

Derivatives are written beside the issue's pages under ``resized/`` and kept in the render
cache (kind ``image``) under the SHA-256 of the original and what was made of it, so an image
is resized once, whichever issue or build needs it again. The images' weight (the bytes a reader
downloads when opening the email) is checked against ``email.image_budget_kb``. Every problem
(an image Pillow cannot read, a format email clients do not show) is located at the line of
the piece that shows the image.
"""

from __future__ import annotations

import hashlib
import io
import posixpath
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote, urlsplit

from . import cache as c
from .errors import Problems
from .html_scan import Parser, feed
from .links import place_of

# Pillow is imported by the code that reads an image, so a build that shows none (and every
# command that only imports this module) does not pay for importing it.
if TYPE_CHECKING:
    from PIL import Image

#: Formats every major email client shows.
RASTER_FORMATS = ("PNG", "JPEG", "GIF", "WEBP")
JPEG_QUALITY = 82
WEBP_QUALITY = 80
#: Where derivatives go, inside the issue's output folder.
DERIVED_DIR = "resized"
#: File name endings of the files an issue's images can be (the cache key covers their bytes).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg", ".bmp", ".tif", ".tiff",
                  ".avif", ".heic")


@dataclass(frozen=True)
class Picture:
    """One image as the email shows it."""

    src: str  # as the body's web HTML names it: relative to the issue page, URL-quoted
    width: int  # the size it is shown at: at most the column, in proportion
    height: int
    shown: str  # what the email (and the web edition) loads: ``src``, or a derivative's URL
    weight: int  # bytes of what the email loads
    original_width: int
    original_height: int

    @property
    def derived(self) -> bool:
        return self.shown != self.src


@dataclass(frozen=True)
class Images:
    """An issue's pictures by ``src``, and the derivatives to write (name -> bytes)."""

    pictures: dict[str, Picture]
    derived: dict[str, bytes]

    @property
    def weight(self) -> int:
        """The bytes of every image the email loads (each file once)."""
        return sum({p.shown: p.weight for p in self.pictures.values()}.values())


NO_IMAGES = Images({}, {})


@dataclass(frozen=True)
class Use:
    """Where a body shows an image: its ``src`` and the file, line and column that say so."""

    src: str
    path: Path
    line: int | None
    column: int | None = None


class _Sources(Parser):
    """The ``src`` of every ``<img>`` of a (sanitised) body."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            src = dict(attrs).get("src")
            if src:
                self.found.append(src)


#: An image's start tag, in any case (found without copying the HTML in lower case).
_IMG_TAG = re.compile("<img", re.IGNORECASE)


def image_sources(html: str) -> list[str]:
    """The ``src`` of every ``<img>`` of ``html``, in order."""
    if _IMG_TAG.search(html) is None:  # most bodies show none: nothing to read
        return []
    parser = _Sources()
    feed(parser, html)
    return parser.found


def uses(html: str, assets: tuple[Path, ...], issue_dir: Path, source: str, path: Path,
         first_line: int) -> list[Use]:
    """The images of ``issue_dir`` a body's web HTML shows (those of its ``assets``: a
    missing file is reported by the Markdown's rendering), each with the line and column of
    ``source`` (the Markdown, starting at ``first_line``) that names it."""
    found = []
    kept = set(assets)
    for src in image_sources(html):
        parts = urlsplit(src)
        if parts.scheme or parts.netloc or not parts.path or parts.path.startswith("/"):
            continue
        try:
            local = (issue_dir / posixpath.normpath(unquote(parts.path))).resolve()
        except (OSError, RuntimeError):
            continue
        if local not in kept:
            continue
        line, column = place_of(source, first_line, unquote(parts.path), parts.path,
                                posixpath.basename(unquote(parts.path)))
        found.append(Use(src, path, line, column))
    return found


def folder_digest(folder: Path) -> str:
    """The SHA-256 of every image file under an issue folder (name and bytes): what the
    pages made from the issue depend on besides its Markdown."""
    digest = hashlib.sha256()
    try:
        files = sorted(p for p in folder.rglob("*")
                       if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    except OSError as exc:
        return f"unreadable {exc}"
    for path in files:
        try:
            data = path.read_bytes()
        except OSError as exc:
            data = f"unreadable {exc}".encode()
        digest.update(f"{path.relative_to(folder).as_posix()}\0{len(data)}\0".encode() + data)
    return digest.hexdigest()


class ImageProblem(Exception):
    """An image that cannot be shown in the email; the message says why and what to do."""


def survey(issue_dir: Path, found: list[Use], column: int, budget_kb: int, cache: c.Cache,
           problems: Problems) -> Images:
    """Size and weigh every image of ``found`` (each ``src`` once) for a column ``column``
    pixels wide; derivatives are made (or taken from ``cache``) for the wide ones and SVGs.

    A problem with an image is an error at the line that shows it; images weighing more
    than ``budget_kb`` together are a warning naming the largest."""
    pictures: dict[str, Picture] = {}
    derived: dict[str, bytes] = {}
    where: dict[str, Use] = {}
    for use in found:
        if use.src in pictures or use.src in where:
            continue
        where[use.src] = use
        relative = posixpath.normpath(unquote(urlsplit(use.src).path))
        try:
            picture, made = _picture(issue_dir, use.src, relative, column, cache)
        except ImageProblem as exc:
            problems.error(use.path, use.line, f"image '{relative}': {exc}", rule="image",
                           column=use.column)
            continue
        pictures[use.src] = picture
        if made is not None:
            derived[unquote(picture.shown)] = made
    images = Images(pictures, derived)
    _check_weight(images, where, budget_kb, problems)
    return images


def _check_weight(images: Images, where: dict[str, Use], budget_kb: int,
                  problems: Problems) -> None:
    if images.weight <= budget_kb * 1024:
        return
    largest = sorted(images.pictures.values(), key=lambda p: p.weight, reverse=True)
    names = ", ".join(
        f"{unquote(p.src)} ({p.weight / 1024:.0f} KB, {where[p.src].path.name}:"
        f"{where[p.src].line})" for p in largest[:3])
    first = where[largest[0].src]
    problems.warning(first.path, first.line,
                     f"the email's images weigh {images.weight / 1024:.0f} KB, over the "
                     f"{budget_kb} KB budget (email.image_budget_kb); every reader downloads "
                     f"them when opening the email. The largest: {names}. Crop them, use "
                     "fewer, or save photos as JPEG", rule="image-weight")


def _picture(issue_dir: Path, src: str, relative: str, column: int,
             cache: c.Cache) -> tuple[Picture, bytes | None]:
    path = issue_dir / relative
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImageProblem(f"cannot be read: {exc.strerror or exc}") from None
    if relative.lower().endswith(".svg"):
        return _svg(data, src, relative, column, cache)
    width, height, _ = _measure(data)
    shown_width = min(width, column)
    shown_height = max(1, round(height * shown_width / width))
    if width <= 2 * column:
        return Picture(src, shown_width, shown_height, src, len(data), width, height), None
    made = derivative(data, 2 * column, cache)
    name = _derived_name(relative, f"-{2 * column}w", None)
    return Picture(src, shown_width, shown_height, quote(name), len(made), width,
                   height), made


def _derived_name(relative: str, tag: str, suffix: str | None) -> str:
    stem, ext = posixpath.splitext(relative)
    return posixpath.join(DERIVED_DIR, f"{stem}{tag}{suffix or ext}")


def _open(data: bytes) -> Image.Image:
    """The image in ``data``; anything Pillow cannot use is an :class:`ImageProblem`."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageProblem("has too many pixels to be an image for a newsletter; scale it "
                           "down before adding it") from None
    except UnidentifiedImageError:
        raise ImageProblem("is not an image that can be read (PNG, JPEG, GIF or WebP); save "
                           "it again in one of those formats") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageProblem(f"is damaged or truncated ({exc}); save it again") from None
    return image


def _measure(data: bytes) -> tuple[int, int, str]:
    """Width, height (as shown: a photo's EXIF rotation applied) and format."""
    with _open(data) as image:
        kind = image.format or "?"
        if kind not in RASTER_FORMATS:
            raise ImageProblem(f"is a {kind} image, which most email clients do not show; "
                               "save it as PNG (charts, screenshots) or JPEG (photos)")
        width, height = image.size
        if image.getexif().get(0x0112) in (5, 6, 7, 8):  # rotated a quarter turn
            width, height = height, width
    return width, height, kind


def _key(data: bytes, how: str, width: int) -> str:
    """The cache key of what ``how`` makes of ``data`` at ``width`` with these libraries."""
    from importlib import metadata

    import PIL

    try:
        svg = metadata.version("cairosvg")
    except metadata.PackageNotFoundError:
        svg = "?"
    return c.key("image", hashlib.sha256(data).hexdigest(), how, width, PIL.__version__, svg)


def derivative(data: bytes, width: int, cache: c.Cache) -> bytes:
    """A raster image ``width`` pixels wide made from ``data`` (in its own format), from the
    cache when it is there."""
    entry = _key(data, "resize", width)
    made = cache.get_bytes("image", entry)
    if made is None:
        made = _resize(data, width)
        cache.put_bytes("image", entry, made)
    return made


def _resize(data: bytes, width: int) -> bytes:
    from PIL import ImageOps, ImageSequence

    out = io.BytesIO()
    with _open(data) as image:
        kind = image.format
        if kind == "GIF" and getattr(image, "is_animated", False):
            frames = [_scaled(frame.convert("RGBA"), width)
                      for frame in ImageSequence.Iterator(image)]
            frames[0].save(out, "GIF", save_all=True, append_images=frames[1:],
                           loop=image.info.get("loop", 0),
                           duration=image.info.get("duration", 100), disposal=2)
            return out.getvalue()
        upright = ImageOps.exif_transpose(image)  # EXIF (and its location) is not kept
        if kind == "JPEG":
            _scaled(upright.convert("RGB"), width).save(out, "JPEG", quality=JPEG_QUALITY,
                                                         optimize=True, progressive=True)
        elif kind == "WEBP":
            _scaled(upright.convert("RGBA"), width).save(out, "WEBP", quality=WEBP_QUALITY)
        else:  # PNG, and a still GIF: lossless
            mode = "RGBA" if upright.mode in ("P", "PA", "LA", "RGBA") else "RGB"
            _scaled(upright.convert(mode), width).save(out, kind or "PNG", optimize=True)
    return out.getvalue()


def _scaled(image: Image.Image, width: int) -> Image.Image:
    from PIL import Image

    height = max(1, round(image.height * width / image.width))
    return image.resize((width, height), Image.Resampling.LANCZOS)


def _svg(data: bytes, src: str, relative: str, column: int,
         cache: c.Cache) -> tuple[Picture, bytes]:
    """An SVG, rasterised to a PNG at twice the size the email shows it at."""
    natural = _rasterise(data, None)
    width, height, _ = _measure(natural)
    shown_width = min(width, column)
    shown_height = max(1, round(height * shown_width / width))
    entry = _key(data, "svg", 2 * shown_width)
    made = cache.get_bytes("image", entry)
    if made is None:
        made = _rasterise(data, 2 * shown_width)
        cache.put_bytes("image", entry, made)
    name = _derived_name(relative, "", ".png")
    return Picture(src, shown_width, shown_height, quote(name), len(made), width,
                   height), made


def _rasterise(data: bytes, width: int | None) -> bytes:
    try:
        import cairosvg
    except (ImportError, OSError) as exc:
        raise ImageProblem("is an SVG, which most email clients do not show, and it cannot be "
                           f"turned into a PNG here ({exc}; cairosvg needs the cairo library, "
                           "Debian's libcairo2); export the chart as PNG instead") from None
    try:
        # Not unsafe: no XML entities, and nothing fetched but inline data: URLs.
        made = cairosvg.svg2png(bytestring=data, output_width=width, unsafe=False)
    except Exception as exc:  # cairosvg raises many kinds for a malformed SVG
        raise ImageProblem(f"is an SVG that cannot be turned into a PNG for the email "
                           f"({type(exc).__name__}: {exc}); export it as PNG") from None
    if not isinstance(made, bytes):
        raise ImageProblem("is an SVG that cannot be turned into a PNG for the email")
    return made
