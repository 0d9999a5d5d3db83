"""Entry point for ``kokoro-cli`` and ``python -m kokoro_cli``.

The application is imported in :func:`main`, not here: a synthesis worker is spawned by
re-running this entry point's imports (multiprocessing's "spawn"), and it needs none of the
command line (typer, rich and every command's options).
"""


def main() -> None:
    import sys

    if sys.argv[1:2] == ["say"]:  # a running `kokoro-cli serve` speaks it, when there is one
        from kokoro_cli.serving import ask_server

        code = ask_server(sys.argv[2:])
        if code is not None:
            sys.exit(code)
    from kokoro_cli.app import app

    app()


if __name__ == "__main__":
    main()
