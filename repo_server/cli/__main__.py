"""`python -m repo_server.cli`."""

from . import main

main()
