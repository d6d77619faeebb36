import sys

from deepexpr.cli import main

sys.exit(main())
