"""`python -m layers.cli`: the `watchfloor` command without the installed entry point."""

import sys

from layers.cli import main

sys.exit(main())
