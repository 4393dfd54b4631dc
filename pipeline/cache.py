"""The render cache's store: what a build rendered, kept so the next build renders only what
changed (:mod:`pipeline.memo` wraps the build's stages in it).

It lives in ``<root>/.cache/newsletter/`` (``CACHE_DIR``), one file per entry, named by its key:
the SHA-256 of everything the rendering read. Nothing in it is ever an output, and deleting
the folder (or building with ``--no-cache``) only makes the next build slower.

The kinds of entry:

``piece``
    One body's Markdown rendered (:class:`~pipeline.markup.Body`: its web HTML, from which
    the absolute HTML is made again in one pass; its plain text if the build made it, which
    it does not for a teaser; and the problems found on the way). Key: the Markdown, where
    the body lives (issue folder, issue URL, anchor, file, first line), the engine's options
    and the code (below). What the other bodies of its page answered about its in-page
    links (:func:`~pipeline.links.ask`) is stored with it and asked again, like the probes:
    the answers the file system gave about each local link (:func:`~pipeline.links.probe`)
    are stored with it and asked again before it is used: a link whose target appeared or
    went away renders again.
``anchors``
    The ids of one body (its headings' and notes'), which the other bodies of its issue page
    need to know where their in-page links land. Key: the Markdown and the engine's options.
``bodies``
    Where the ``piece`` and ``anchors`` entries are kept: one file per issue folder (key: the
    folder and the code) holding those of its bodies, written at the end of a build that
    rendered one of them, with the ones that build used (:meth:`Cache.bodies_of`). An issue's
    bodies are looked up together, and one file costs far less to write than one per body.
``issue``
    One issue's pages (HTML email, text email, web edition), its feed entry, the assets it
    copies and the problems its rendering found. Key: the issue's inputs (:func:`inputs`:
    the folder's listing and the bytes of its Markdown files), the bytes of its images
    (:func:`pipeline.images.folder_digest`), the site (``newsletter.toml``,
    ``contributors.toml`` and every template, :func:`site_digest`), whether drafts are
    shown, and the code (not ``--strict``: problems are stored as found, and the command
    applies it). The probes of its pieces are checked as for ``piece``.
``entry`` and ``summary``
    What a build of another issue needs of this one: its feed entry, and its line on the
    archive page with the problems reading it found. Same key as ``issue``.
``good``
    An issue's archive line and feed entry (two entries) from its last build without errors,
    which the builds of other issues use while it has errors. Key: the issue folder only.
    Each is written only when it changed, which its header tells without reading the rest.
``template``
    Jinja2's compiled templates (:class:`pipeline.memo.TemplateCode`).
``inputs/``
    Not entries: the digest of each issue folder's inputs (:func:`pipeline.digests.inputs`)
    with what the file system said of the folder when it was made, so that the Markdown is
    read again only when the file system says something changed (or changed too recently
    to tell).
``image``
    An image made for the email (:mod:`pipeline.images`: a wide image resized, an SVG
    rasterised), its bytes. Key: the SHA-256 of the original, what was made of it, its width,
    the versions of Pillow and cairosvg, and the code.

"The code" is the pipeline's ``__version__``, a digest of its own modules and the versions
of the libraries that shape the output (Markdown, nh3, Jinja2, css-inline): a new release
invalidates everything. A change to a template or to ``newsletter.toml`` thus renders every
issue's pages again, but no piece's Markdown (unless ``base_url`` changed, which is in every
body's issue URL); a change to one piece renders that piece and its issue's pages.

Integrity: an entry is one header line, ``MAGIC kind key digest``, then its JSON with its
long strings after it, as they are (:func:`encode`; for templates, Jinja2's bytes), where
digest is the SHA-256 of what follows. A read checks that the header names the kind and key
asked for and that the digest matches; anything else (truncated, garbled, swapped) counts as
corrupt, is deleted and rendered again, never trusted.
Entries are written to a temporary file and renamed into place, so a reader never sees half
an entry; nothing is unpickled.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .digests import LONG as LONG
from .digests import TEXT as TEXT
from .digests import code_digest as code_digest
from .digests import inputs as inputs
from .digests import key as key
from .digests import site_digest as site_digest
from .digests import site_stamp as site_stamp
from .links import probe
from .writer import replace_file

CACHE_DIR = Path(".cache") / "newsletter"
MAGIC = b"newsletter-cache-1 "
KINDS = ("piece", "anchors", "issue", "entry", "summary")
#: A string at least :data:`LONG` long is stored after its entry's JSON, as it is (not
#: escaped), and named in the JSON by its place: ``{"\u0000": n}``, the n-th of them (a key of
#: the payload that starts with NUL is stored with one NUL more).
_PLACE = "\u0000"


def encode(payload: dict[str, Any]) -> bytes:
    """An entry's bytes: one line of JSON, its long strings left out (:data:`LONG`), then
    those strings one after another (their lengths in bytes are in the JSON)."""
    long: list[bytes] = []

    def out(value: Any) -> Any:
        if isinstance(value, str):
            if len(value) < LONG:
                return value
            long.append(value.encode("utf-8", TEXT))
            return {_PLACE: len(long) - 1}
        if isinstance(value, dict):  # a key that starts like a place gets one more NUL
            return {_PLACE + name if name.startswith(_PLACE) else name: out(item)
                    for name, item in value.items()}
        if isinstance(value, list | tuple):
            return [out(item) for item in value]
        return value

    head = json.dumps({"payload": out(payload), "long": [len(b) for b in long]},
                      ensure_ascii=False, separators=(",", ":"))
    return b"".join([head.encode("utf-8", TEXT), b"\n", *long])


def decode(data: bytes) -> Any:
    """The payload of :func:`encode`'s bytes (ValueError when they are not such bytes)."""
    head, newline, rest = data.partition(b"\n")
    try:
        meta = json.loads(head.decode("utf-8", TEXT))
        texts, at = [], 0
        for size in meta["long"]:
            texts.append(rest[at:at + size].decode("utf-8", TEXT))
            at += size
        if not newline or at != len(rest):
            raise ValueError("not an entry")

        def back(value: Any) -> Any:
            if isinstance(value, dict):
                if len(value) == 1 and _PLACE in value:
                    return texts[value[_PLACE]]
                return {name.removeprefix(_PLACE): back(item) for name, item in value.items()}
            if isinstance(value, list):
                return [back(item) for item in value]
            return value

        return back(meta["payload"])
    except (KeyError, TypeError, IndexError, UnicodeDecodeError) as exc:
        raise ValueError("not an entry") from exc


@dataclass
class Stats:
    """How many entries of each kind a build found, had to render, or found broken."""

    hits: dict[str, int] = field(default_factory=dict)
    misses: dict[str, int] = field(default_factory=dict)
    stale: dict[str, int] = field(default_factory=dict)  # a probe's answer changed
    corrupt: dict[str, int] = field(default_factory=dict)  # failed the integrity check
    unwritable: int = 0

    def count(self, what: dict[str, int], kind: str) -> None:
        what[kind] = what.get(kind, 0) + 1

    def merge(self, other: Stats) -> None:
        for mine, theirs in ((self.hits, other.hits), (self.misses, other.misses),
                             (self.stale, other.stale), (self.corrupt, other.corrupt)):
            for kind, n in theirs.items():
                mine[kind] = mine.get(kind, 0) + n
        self.unwritable += other.unwritable

    def rendered(self, kind: str) -> int:
        """How many entries of ``kind`` were rendered (not found, stale or corrupt)."""
        return self.misses.get(kind, 0)

    def summary(self) -> str:
        """``cache: pieces 24 reused, 1 rendered; issue pages 0 reused, 1 rendered; ...``."""
        names = {"piece": "pieces", "issue": "issue pages", "entry": "feed entries",
                 "summary": "issue summaries"}  # the heading ids are a detail of the pieces
        parts = []
        for kind in (k for k in KINDS if k in names):
            hits, misses = self.hits.get(kind, 0), self.misses.get(kind, 0)
            if hits or misses:
                extra = [f"{n} {label}" for n, label in ((self.stale.get(kind, 0), "stale"),
                                                         (self.corrupt.get(kind, 0), "corrupt"))
                         if n]
                parts.append(f"{names[kind]} {hits} reused, {misses} rendered"
                             + (f" ({', '.join(extra)})" if extra else ""))
        if self.unwritable:
            parts.append(f"{self.unwritable} entries could not be written")
        return "cache: " + ("; ".join(parts) or "nothing to look up")


#: The kinds kept together, one entry (``bodies``) per issue folder: an issue's bodies are
#: rendered and looked up together, and one file costs far less to write than one per body.
PACKED = ("piece", "anchors")


@dataclass
class _Pack:
    """The bodies of one issue folder: as read (``stored``), and as this build uses them."""

    folder: Path
    entry_key: str
    stored: dict[tuple[str, str], dict[str, Any]] | None = None  # read when first asked
    used: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    changed: bool = False


class Cache:
    """Entries under ``folder``, or nothing at all when ``folder`` is None (``--no-cache``)."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self.stats = Stats()
        self._fresh: dict[tuple[str, str], dict[str, Any]] = {}
        self._later: list[tuple[str, str, Callable[[], dict[str, Any]]]] = []
        self._pack: _Pack | None = None

    @contextlib.contextmanager
    def bodies_of(self, issue_folder: Path) -> Iterator[None]:
        """Within this, the bodies (:data:`PACKED` kinds) are looked up in and stored to the
        one ``bodies`` entry of ``issue_folder``, written when it ends if something new was
        stored (with the bodies this build used, so it never grows with old versions). Used
        again for the same folder inside, it is the same entry."""
        if self.folder is None or (self._pack is not None and
                                   self._pack.folder == issue_folder):
            yield
            return
        outer, self._pack = self._pack, _Pack(issue_folder, key("bodies", str(issue_folder)))
        try:
            yield
            self.flush()
            pack = self._pack
            # Something new was rendered only when the issue's bodies were all looked up:
            # then what this build used is the whole of them.
            if pack.changed:
                self.put("bodies", pack.entry_key, {"entries": [
                    [kind, entry_key, payload] for (kind, entry_key), payload
                    in pack.used.items()]})
        finally:
            self._pack = outer

    def _packed(self, kind: str) -> _Pack | None:
        """The open pack, read, when ``kind`` is kept in it."""
        pack = self._pack
        if pack is None or kind not in PACKED:
            return None
        if pack.stored is None:
            pack.stored = {}
            data = self.get_bytes("bodies", pack.entry_key, count=False)
            try:
                found = decode(data)["entries"] if data else []
                pack.stored = {(k, e): payload for k, e, payload in found
                               if isinstance(payload, dict)}
            except (ValueError, KeyError, TypeError):  # not an entry this module wrote
                self._corrupt("bodies", pack.entry_key)
        return pack

    def remember(self, kind: str, entry_key: str, payload: dict[str, Any]) -> None:
        """An entry rendered for this build elsewhere (a worker): counted as rendered, and
        given back by :meth:`get` without reading it again (and stored with the bodies of
        the issue folder that uses it)."""
        self._fresh[(kind, entry_key)] = payload
        self.stats.count(self.stats.misses, kind)

    def made_now(self, kind: str, entry_key: str) -> bool:
        """Whether the entry was made for this build elsewhere (:meth:`remember`)."""
        return (kind, entry_key) in self._fresh

    def has(self, kind: str, entry_key: str) -> bool:
        """Whether an entry is there (not whether it can be trusted: :meth:`get` says)."""
        if (kind, entry_key) in self._fresh:
            return True
        pack = self._packed(kind)
        if pack is not None:
            assert pack.stored is not None
            return (kind, entry_key) in pack.used or (kind, entry_key) in pack.stored
        return self.folder is not None and self._path(kind, entry_key).is_file()

    def _path(self, kind: str, entry_key: str) -> Path:
        assert self.folder is not None
        return self.folder / kind / entry_key[:2] / f"{entry_key}.json"

    def get(self, kind: str, entry_key: str,
            valid: Callable[[dict[str, Any]], bool] | None = None) -> dict[str, Any] | None:
        """The payload stored under ``entry_key``, or None (counted) when there is none to
        trust: missing, corrupt, or an answer it depends on has changed (the file system's,
        :func:`~pipeline.links.probe`, or the one ``valid`` asks)."""
        fresh = self._fresh.get((kind, entry_key))
        pack = self._packed(kind)
        if fresh is not None:
            if pack is not None:
                pack.used[(kind, entry_key)] = fresh
                pack.changed = True
            return fresh
        if self.folder is None:
            return None
        payload: Any = None
        if pack is not None:
            assert pack.stored is not None
            payload = pack.used.get((kind, entry_key)) or pack.stored.get((kind, entry_key))
        else:
            data = self.get_bytes(kind, entry_key, count=False)
            if data is not None:
                try:
                    payload = decode(data)
                except ValueError:  # cannot happen to an entry this module wrote: corrupt
                    self._corrupt(kind, entry_key)
        if not isinstance(payload, dict):
            self.stats.count(self.stats.misses, kind)
            return None
        if any(probe(Path(name)) != state for name, state in payload.get("probes", ())) or \
                (valid is not None and not valid(payload)):
            self.stats.count(self.stats.stale, kind)
            self.stats.count(self.stats.misses, kind)
            return None
        self.stats.count(self.stats.hits, kind)
        if pack is not None:
            pack.used[(kind, entry_key)] = payload
        return payload

    def get_bytes(self, kind: str, entry_key: str, count: bool = True) -> bytes | None:
        """The bytes stored under ``entry_key`` if they pass the integrity check, else None
        (a corrupt entry is counted and deleted)."""
        if self.folder is None:
            return None
        try:
            data = self._path(kind, entry_key).read_bytes()
        except OSError:
            if count:
                self.stats.count(self.stats.misses, kind)
            return None
        header, newline, body = data.partition(b"\n")
        expected = b"%s%s %s %s" % (MAGIC, kind.encode(), entry_key.encode(),
                                     hashlib.sha256(body).hexdigest().encode())
        if not newline or header != expected:
            self._corrupt(kind, entry_key)
            if count:
                self.stats.count(self.stats.misses, kind)
            return None
        if count:
            self.stats.count(self.stats.hits, kind)
        return body

    def _corrupt(self, kind: str, entry_key: str) -> None:
        # A broken pack of bodies is counted with the pieces, which are rendered again.
        self.stats.count(self.stats.corrupt, "piece" if kind == "bodies" else kind)
        with contextlib.suppress(OSError):
            self._path(kind, entry_key).unlink()

    def put(self, kind: str, entry_key: str, payload: dict[str, Any]) -> None:
        """Store ``payload`` (JSON values); a cache that cannot be written is only counted."""
        pack = self._packed(kind)
        if pack is not None:
            pack.used[(kind, entry_key)] = payload
            pack.changed = True
            return
        self.put_bytes(kind, entry_key, encode(payload))

    def put_later(self, kind: str, entry_key: str, payload: Callable[[], dict[str, Any]]
                  ) -> None:
        """Store ``payload()`` when :meth:`flush` is called: what it stores of a value may
        grow as the build goes on (a body's plain text, once its email has asked for it)."""
        if self.folder is not None:
            self._later.append((kind, entry_key, payload))

    def flush(self) -> None:
        """Store what :meth:`put_later` kept for later."""
        later, self._later = self._later, []
        for kind, entry_key, payload in later:
            self.put(kind, entry_key, payload())

    def put_bytes(self, kind: str, entry_key: str, body: bytes) -> None:
        """Store ``body`` under its header: ``MAGIC kind key sha256(body)``."""
        if self.folder is None:
            return
        try:
            replace_file(self._path(kind, entry_key), self._header(kind, entry_key, body) + body)
        except OSError:
            self.stats.unwritable += 1

    @staticmethod
    def _header(kind: str, entry_key: str, body: bytes) -> bytes:
        return b"%s%s %s %s\n" % (MAGIC, kind.encode(), entry_key.encode(),
                                   hashlib.sha256(body).hexdigest().encode())

    def put_if_changed(self, kind: str, entry_key: str, payload: dict[str, Any]) -> None:
        """:meth:`put`, unless the entry stored is already this one: its header (the digest of
        what follows) says so, and nothing more of it is read."""
        if self.folder is None:
            return
        body = encode(payload)
        header = self._header(kind, entry_key, body)
        try:
            with self._path(kind, entry_key).open("rb") as stored:
                if stored.readline() == header:
                    return
        except OSError:
            pass
        self.put_bytes(kind, entry_key, body)
