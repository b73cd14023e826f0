"""The defs folder of the `dg` project: `dg.load_from_defs_folder` (pipelines/definitions.py) loads every module
here. Each domain module hands over the `Definitions` its `assets/<domain>/defs.py` declares; add a domain by
adding one module (`dg scaffold defs` puts new definitions here too)."""
