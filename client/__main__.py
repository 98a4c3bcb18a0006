"""``python -m client``: the same as the ``descent`` console script."""

from client.cli import main

if __name__ == "__main__":
    main()
