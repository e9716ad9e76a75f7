"""A drawn signature as it is sent: the PNG data URL of the signing canvas
(web/static/signature.js) from the consent page, or bare base64 from the API, bounded here
before it is decoded; the use case refuses one that is no PNG or is blank."""

from __future__ import annotations

from dermaplan.bounds import SIGNATURE_BYTES
from dermaplan.records.errors import InvalidInput

DATA_URL = "data:image/png;base64,"
MAX_CHARS = len(DATA_URL) + SIGNATURE_BYTES * 4 // 3 + 4  # the base64 of the largest PNG


def drawn_signature(sent: str, *, from_pad: bool = False) -> str:
    """The base64 PNG of a drawing, or InvalidInput at `signature_png` when it is larger
    than a signature may be or (`from_pad`: posted by the consent page) is not the PNG data
    URL the signing pad sends."""
    given = sent.strip()
    if from_pad and not given.startswith(DATA_URL):
        raise InvalidInput.one("signature_png: not a drawing from the signing pad")
    data = given.removeprefix(DATA_URL)
    if len(data) > MAX_CHARS:
        raise InvalidInput.one(f"signature_png: larger than {SIGNATURE_BYTES // 1024} KB")
    return data
