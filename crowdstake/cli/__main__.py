"""`python -m crowdstake.cli`: the `crowdstake` command."""

from crowdstake.cli import main

if __name__ == "__main__":
    main()
