"""`python -m medsins ...` is the `medsins` command."""

from medsins import main

main()
