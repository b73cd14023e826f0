"""Domain `publish`: the published products, denials, audit manifest, and the `publish` resource (assets/publish/defs.py)."""

from assets.publish.defs import defs as defs
