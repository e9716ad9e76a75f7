"""Images people hand over (clinical photos, drawn signatures), bounded before they cost
anything: in bytes, then in pixels as the header says, before a pixel is decoded. A
12000×12000 PNG of zeros is a few hundred kilobytes and two gigabytes once decoded."""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from PIL import Image

from dermaplan.bounds import (
    MEBIBYTE,
    PHOTO_BYTES,
    PHOTO_PIXELS,
    SIGNATURE_BYTES,
    SIGNATURE_PIXELS,
)
from dermaplan.records.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class ImageLimits:
    field: str  # where a refusal is reported
    bytes: int
    pixels: int

    def size_problem(self, size: int) -> str | None:
        if size <= self.bytes:
            return None
        limit = (
            f"{self.bytes // MEBIBYTE} MB" if self.bytes >= MEBIBYTE else f"{self.bytes // 1024} KB"
        )
        return f"{self.field}: larger than {limit}"

    def pixels_problem(self, width: int, height: int) -> str | None:
        if width * height <= self.pixels:
            return None
        return (
            f"{self.field}: {width}×{height} pixels, more than the "
            f"{self.pixels / 1_000_000:g} megapixels an image here may have"
        )


@contextmanager
def unwarned() -> Iterator[None]:
    """Pillow's warnings about a damaged file (a malformed MPO read as its JPEG, a corrupt
    EXIF block) left unsaid: the image is read, or refused by the error that follows, in
    one line."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


PHOTO = ImageLimits("photo", PHOTO_BYTES, PHOTO_PIXELS)
SIGNATURE = ImageLimits("signature_png", SIGNATURE_BYTES, SIGNATURE_PIXELS)


def opened_image(content: bytes, limits: ImageLimits) -> Image.Image:
    """The image opened from its header alone (Pillow decodes pixels only when asked), or
    InvalidInput when it is larger in bytes or pixels than `limits`. Pillow's errors for
    what is no image are the caller's to word."""
    problem = limits.size_problem(len(content))
    if problem is not None:
        raise InvalidInput.one(problem)
    try:
        with unwarned():  # past Pillow's own pixel limit (far past ours) it warns first
            image = Image.open(io.BytesIO(content))
    except Image.DecompressionBombError:  # past twice Pillow's limit: no size to say
        raise InvalidInput.one(
            f"{limits.field}: more than the {limits.pixels / 1_000_000:g} megapixels an image "
            "here may have"
        ) from None
    problem = limits.pixels_problem(*image.size)
    if problem is not None:
        image.close()
        raise InvalidInput.one(problem)
    return image
