"""``python -m idgraph.cli`` (used by the demo to start the service in a child process)."""

from idgraph.cli import main

main()
