"""Domain `ingest`: the form catalog and each district's landing files: staged rows, quarantine, accounting (assets/ingest/defs.py)."""

from assets.ingest.defs import defs as defs
