"""`python -m synth.generator --preset tiny --out /tmp/x`."""

import sys

from synth.generator.cli import main

sys.exit(main(prog="python -m synth.generator"))
