"""Whether an email address can be written to, as email-validator judges it (its syntax only,
no DNS look-up), with the addresses it found valid remembered.

Importing email-validator compiles its grammar, which takes longer than building a small
issue, and the addresses of ``newsletter.toml`` and ``contributors.toml`` seldom change. So
the ones found valid are kept in ``<root>/.cache/addresses.json`` with what names the
library's install (:func:`installed`); a command whose addresses are all there does not
import it. An address not there, or kept by another install of the library, is judged
again. A file that cannot be read or written only means that: the addresses are judged.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

from .writer import replace_file

#: Where the addresses found valid are kept, under the root (ignored by git, with the render
#: cache; deleting it only means they are judged again).
MEMO = Path(".cache") / "addresses.json"


def installed(module: str) -> str:
    """Where a library is installed and what the file system says of its top module's file
    (size, modification and change times, inode), found without importing it. Installing,
    upgrading or reinstalling the library writes that file again, so this changes with its
    version; "?" for a library that is not installed."""
    try:
        spec = importlib.util.find_spec(module)
        origin = spec.origin if spec is not None else None
        found = os.stat(origin) if origin else None
    except (ImportError, ValueError, OSError):
        origin, found = None, None
    if origin is None or found is None:
        return "?"
    return f"{origin}:{found.st_size}:{found.st_mtime_ns}:{found.st_ctime_ns}:{found.st_ino}"


class Addresses:
    """email-validator's judgement of the addresses one command reads (under ``root``, whose
    memo it uses; none without a root), and :meth:`save` to keep the valid ones."""

    def __init__(self, root: Path | None) -> None:
        self._memo = root / MEMO if root is not None else None
        self._kept: set[str] | None = None
        self._found: set[str] = set()

    def _known(self) -> set[str]:
        if self._kept is None:
            self._kept = set()
            try:
                data = json.loads(self._memo.read_bytes()) if self._memo else None
            except (OSError, ValueError):
                data = None
            if isinstance(data, dict) and data.get("library") == installed("email_validator") \
                    and isinstance(data.get("valid"), list):
                self._kept = {a for a in data["valid"] if isinstance(a, str)}
        return self._kept

    def problem(self, address: str) -> str | None:
        """Why email-validator says ``address`` cannot be written to, or None."""
        if address in self._found or address in self._known():
            return None
        from email_validator import EmailNotValidError, validate_email  # see the module

        try:
            validate_email(address, check_deliverability=False)
        except EmailNotValidError as exc:
            return str(exc)
        self._found.add(address)
        return None

    def save(self) -> None:
        """Keep the addresses found valid since the memo was read (nothing if none was new)."""
        if self._memo is None or not self._found - self._known():
            return
        data = {"library": installed("email_validator"),
                "valid": sorted(self._known() | self._found)}
        try:
            self._memo.parent.mkdir(parents=True, exist_ok=True)
            replace_file(self._memo, json.dumps(data, ensure_ascii=False, indent=0).encode())
        except OSError:
            pass  # judged again next time
