"""The shared resources (warehouse, landing, reflow folders, run environment), declared below the domains in
assets/common/resources.py and configured there with `dg.EnvVar`."""

from assets.common.resources import resources as resources
