"""``python -m embaug_core.cli``: the ``embaug`` command."""

import sys

from . import main

sys.exit(main())
