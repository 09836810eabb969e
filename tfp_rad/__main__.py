"""`python -m tfp_rad`: the same as the `tfp-rad` command."""

import sys

from tfp_rad.cli.main import main

sys.exit(main())
