"""``python -m veil`` runs the CLI."""

import sys

from veil.cli.main import main

sys.exit(main())
