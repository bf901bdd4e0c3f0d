"""`python -m ingest.feeds [run] [--config FILE] [--once]`: the feed runner without the CLI."""

import sys

from ingest.feeds.runner import main

sys.exit(main())
