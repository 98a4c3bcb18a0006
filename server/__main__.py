"""``python -m server``: run the descent parameter server."""

import sys

from server.app import main

sys.exit(main())
