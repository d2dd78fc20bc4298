"""`python -m housing.cli`, as the tests and the demo start processes."""

from housing.cli import main

main()
