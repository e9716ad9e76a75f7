"""A drawn signature as the browser sends it, checked at the edge before any use case: a
PNG data URL from the signing canvas (web/static/signature.js), no larger than a signature
may be, and not blank (a canvas sent without a stroke on it signs nothing)."""

from __future__ import annotations

import base64
import binascii

from PIL import UnidentifiedImageError

from dermaplan.bounds import SIGNATURE_BYTES
from dermaplan.records.errors import InvalidInput
from dermaplan.records.images import SIGNATURE, opened_image, unwarned

DATA_URL = "data:image/png;base64,"
MAX_CHARS = len(DATA_URL) + SIGNATURE_BYTES * 4 // 3 + 4  # the base64 of the largest PNG
FIELD = "signature_png"


def drawn_signature(sent: str) -> str:
    """The base64 PNG of a drawing sent as a data URL (or as bare base64, from the API),
    or InvalidInput at `signature_png`: not a PNG, too large, or blank."""
    data = sent.strip().removeprefix(DATA_URL)
    if len(data) > MAX_CHARS:
        raise InvalidInput.one(f"{FIELD}: larger than {SIGNATURE_BYTES // 1024} KB")
    try:
        image = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput.one(f"{FIELD}: not a PNG image sent by the signing pad") from None
    if _blank(image):
        raise InvalidInput.one(f"{FIELD}: the signature is blank; sign in the box")
    return data


def _blank(image: bytes) -> bool:
    """Whether every pixel is the same (nothing drawn); what is no image at all is left to
    the records' own check, which words it."""
    try:
        with opened_image(image, SIGNATURE) as opened, unwarned():
            extrema = opened.convert("RGBA").getextrema()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return False
    return all(low == high for low, high in extrema)  # type: ignore[misc]
