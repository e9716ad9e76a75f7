"""The pure consult engine: assessment in, explained plan out; no I/O, no clock."""
