"""The application layer: the use cases every front end calls.

The command line, the web app, the scheduler and the exporters enter a `UnitOfWork` once
per command or request and call use cases from the modules here (patients, staff, consults,
…). A use case checks who is acting (`Principal`), runs the records services in the unit's
one transaction and returns typed results; it never prints. Errors are `RecordsError`s
carrying located problems (`dermaplan.problems`), which each front end renders its own way.
"""
