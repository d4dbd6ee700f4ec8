"""`python -m lead_scoring` = the `lead-scoring` command."""
import sys

from lead_scoring.cli import main

sys.exit(main())
