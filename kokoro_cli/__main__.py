"""Entry point for ``kokoro-cli`` and ``python -m kokoro_cli``.

The application is imported in :func:`main`, not here: a synthesis worker is spawned by
re-running this entry point's imports (multiprocessing's "spawn"), and it needs none of the
command line (typer, rich and every command's options).
"""


def main() -> None:
    from kokoro_cli.app import app

    app()


if __name__ == "__main__":
    main()
