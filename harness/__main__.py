"""``python -m harness`` is ``funcad-compare``."""

import sys

from harness.cli import main

sys.exit(main())
