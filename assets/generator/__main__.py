"""`python -m assets.generator --preset tiny --out /tmp/x`."""

import sys

from assets.generator.cli import main

sys.exit(main(prog="python -m assets.generator"))
