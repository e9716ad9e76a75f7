"""The web app: pages rendered on the server (Jinja2, htmx served from the package) and a
JSON API under /api/v1, both thin shells over the application layer.

A request establishes who is asking (a browser's session or an API token, app.logins),
then runs one use case acting as them (`Application.run`) and renders what it returns.
The use cases check roles and audit reads; this package never opens a transaction, checks
a role or composes two use cases, and reaches the records only for their words and errors
(tests/test_architecture.py).
"""
