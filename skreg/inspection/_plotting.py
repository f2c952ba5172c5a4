"""What the Displays share: matplotlib, imported only when something is plotted."""


def require_matplotlib(caller: str) -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError as error:
        raise ImportError(
            f"{caller} needs matplotlib: python -m pip install 'skreg[plots]'."
        ) from error
