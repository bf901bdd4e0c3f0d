"""`python -m ingest.demo OUTDIR [--now ...] [--seed N]`: write the scenario's files (with a seed)."""

from ingest.demo.scenario import main

raise SystemExit(main())
