"""``python -m devstack.tiktok_sandbox``: see ``devstack.tiktok_sandbox.cli``."""

import sys

from devstack.tiktok_sandbox.cli import main

sys.exit(main())
