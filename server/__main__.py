"""`python -m server`: the same as the `rapport` command."""

import sys

from server.cli import main

sys.exit(main())
