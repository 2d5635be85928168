"""``python -m harness.bench`` is ``funcad-compare bench``."""

import sys

from harness.bench.cli import main

sys.exit(main())
