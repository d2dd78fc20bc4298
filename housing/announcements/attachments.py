"""What an announcement's attachment really is, judged by its content: an image or a PDF.

Images go through the request photos' check (Pillow); a PDF must open in pypdf and have at
least one page. A file that only claims a type (a script named .pdf, a truncated upload) is
refused, and so is anything larger than the setting allows.
"""

import io
from dataclasses import dataclass

from pypdf import PdfReader
from pypdf.errors import PyPdfError

from housing.errors import TooLarge, UnsupportedMediaType
from housing.requests.photos import inspect_photo

PDF_MAGIC = b"%PDF-"


@dataclass(frozen=True)
class FileKind:
    extension: str
    content_type: str


def inspect_attachment(data: bytes, *, max_bytes: int) -> FileKind:
    if len(data) > max_bytes:
        raise TooLarge(
            f"the file is {len(data):,} bytes; at most {max_bytes:,} are accepted", field="attachment"
        )
    if not data.startswith(PDF_MAGIC):
        try:
            photo = inspect_photo(data, max_bytes=max_bytes)
        except UnsupportedMediaType as exc:
            raise UnsupportedMediaType(
                "the attachment must be a JPEG, PNG or WebP image or a PDF", field="attachment"
            ) from exc
        return FileKind(photo.extension, photo.content_type)
    try:
        pages = len(PdfReader(io.BytesIO(data), strict=False).pages)
    except (PyPdfError, ValueError, KeyError, TypeError, OSError, RecursionError) as exc:
        raise UnsupportedMediaType("the PDF cannot be read; send it again", field="attachment") from exc
    if pages < 1:
        raise UnsupportedMediaType("the PDF has no pages", field="attachment")
    return FileKind("pdf", "application/pdf")
