"""What an uploaded photo really is, judged by its content and not by its name or header.

Pillow parses the bytes in memory; a file that only claims to be image/jpeg (a PDF, a
script, a truncated upload) is refused. Its decompression-bomb guard stays on.
"""

import io
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from housing.errors import TooLarge, UnsupportedMediaType

# Formats every phone and browser produces and shows; Pillow name -> (extension, MIME type).
ACCEPTED = {
    "JPEG": ("jpg", "image/jpeg"),
    "PNG": ("png", "image/png"),
    "WEBP": ("webp", "image/webp"),
}


@dataclass(frozen=True)
class PhotoKind:
    extension: str
    content_type: str


def inspect_photo(data: bytes, *, max_bytes: int) -> PhotoKind:
    if len(data) > max_bytes:
        raise TooLarge(f"the photo is {len(data):,} bytes; at most {max_bytes:,} are accepted", field="photo")
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
            kind = image.format
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as exc:
        raise UnsupportedMediaType(
            "the upload is not a readable image; send a JPEG, PNG or WebP photo", field="photo"
        ) from exc
    if kind not in ACCEPTED:
        raise UnsupportedMediaType(f"{kind} images are not accepted; send JPEG, PNG or WebP", field="photo")
    extension, content_type = ACCEPTED[kind]
    return PhotoKind(extension, content_type)
