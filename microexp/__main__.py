"""``python -m microexp``: the same as the ``microexp`` command."""

import sys

from .cli import main

sys.exit(main())
