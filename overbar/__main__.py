"""``python -m overbar`` is the ``overbar`` command."""

import sys

from overbar.cli import main

sys.exit(main())
