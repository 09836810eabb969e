"""`python -m tfp_rad`: the same as the `tfp-rad` command."""

import sys

from tfp_rad.cli import main

sys.exit(main())
