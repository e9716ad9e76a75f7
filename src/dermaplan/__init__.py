"""Dermaplan: decision support and records for mesotherapy and microneedling clinics."""

__version__ = "0.1.0"
