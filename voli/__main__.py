import sys

from voli.cli import main

sys.exit(main())
