"""Data protection: a person's data export, erasure on request, and retention policies."""
