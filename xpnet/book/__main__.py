import sys

from ..cli import main

sys.exit(main(["book", *sys.argv[1:]]))
