"""``python -m event_worker`` runs the worker."""

import sys

from event_worker.cli import main

sys.exit(main())
