"""Entry point for ``kokoro-cli`` and ``python -m kokoro_cli``."""

from kokoro_cli.app import app


def main() -> None:
    app()


if __name__ == "__main__":
    main()
