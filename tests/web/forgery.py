"""Forged requests: each form posted without the session's CSRF token, with a forged one,
and from another origin."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi.testclient import TestClient


def assert_forgeries_refused(
    client: TestClient, token: str, forms: Iterable[tuple[str, dict[str, Any]]]
) -> None:
    """Every way of forging each (path, fields) form is refused with 403."""
    for path, data in forms:
        for forged in ({}, {"csrf_token": "forged"}):
            answer = client.post(path, data={**forged, **data})
            assert answer.status_code == 403, path
            assert "the form has expired" in answer.text
        other = client.post(
            path, data={"csrf_token": token, **data}, headers={"Origin": "https://evil.test"}
        )
        assert other.status_code == 403, path
