"""A drawn signature as the browser sends it: a PNG data URL from the signing canvas
(web/static/signature.js), or bare base64 from the API, bounded here before it is decoded;
the use case refuses one that is no PNG or is blank."""

from __future__ import annotations

from dermaplan.bounds import SIGNATURE_BYTES
from dermaplan.records.errors import InvalidInput

DATA_URL = "data:image/png;base64,"
MAX_CHARS = len(DATA_URL) + SIGNATURE_BYTES * 4 // 3 + 4  # the base64 of the largest PNG


def drawn_signature(sent: str) -> str:
    """The base64 PNG of a drawing sent as a data URL, or InvalidInput at `signature_png`
    when it is larger than a signature may be."""
    data = sent.strip().removeprefix(DATA_URL)
    if len(data) > MAX_CHARS:
        raise InvalidInput.one(f"signature_png: larger than {SIGNATURE_BYTES // 1024} KB")
    return data
