"""`python -m client`: the command line."""

from client.cli import main

raise SystemExit(main())
