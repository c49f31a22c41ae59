"""`python -m pointsnet.cli`: the `pointsnet` command without its console script."""

import sys

from pointsnet.cli import main

sys.exit(main())
