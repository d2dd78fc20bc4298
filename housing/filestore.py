"""Documents on disk, for every feature that keeps them: a meeting's agenda documents, powers of
attorney and paper ballots' scans; the acts, invoices and photos behind a building's expenses.

Content is judged by `housing.announcements.attachments.inspect_attachment` (an image or a
PDF, within the caller's size limit) before anything is written. A file is written under a
random name in the caller's directory before the transaction commits: a failed commit leaves
an unserved file behind, never a row without its file.
"""

import secrets
from dataclasses import dataclass
from pathlib import Path

from housing.announcements.attachments import inspect_attachment
from housing.errors import DomainError, Invalid, NotFound


@dataclass(frozen=True)
class Stored:
    name: str
    content_type: str
    size_bytes: int


def inspect(data: bytes, *, max_bytes: int, field: str):
    """The file's kind (extension, content type), or a 413/415 naming `field`."""
    if not isinstance(data, bytes | bytearray) or not data:
        raise Invalid("send the file (an image or a PDF)", field=field)
    try:
        return inspect_attachment(data, max_bytes=max_bytes)
    except DomainError as exc:
        exc.field = field  # the caller's name for the file, not the announcements' one
        raise


def store(directory: Path, prefix: str, data: bytes, *, max_bytes: int, field: str) -> Stored:
    kind = inspect(data, max_bytes=max_bytes, field=field)
    name = f"{prefix}-{secrets.token_hex(12)}.{kind.extension}"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_bytes(data)
    return Stored(name, kind.content_type, len(data))


def read(directory: Path, name: str) -> bytes:
    """A stored file's bytes; a name that is not a plain file name in the directory is not found."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise NotFound("file not found")
    path = directory / name
    if not path.is_file():
        raise NotFound("file not found")
    return path.read_bytes()
