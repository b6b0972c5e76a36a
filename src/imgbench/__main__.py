"""`python -m imgbench COMMAND`: see `imgbench.cli`."""

import sys

from imgbench.cli import main

sys.exit(main())
