"""Build the OpenQR app and serve it with waitress: `python app.py` (or `make run`)."""

import logging
import sys

from openqr import ConfigError
from openqr import create_app as build_app


def create_app():
    """The app for `flask ...` commands; a bad setting ends with one clear line."""
    try:
        return build_app()
    except ConfigError as err:
        sys.exit(f"openqr: configuration error: {err}")


def main() -> None:
    app = create_app()
    logging.basicConfig(level=app.config["OPENQR_LOG_LEVEL"], format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from flask_migrate import upgrade
    from waitress import serve

    with app.app_context():
        upgrade()  # pending migrations first, so an upgrade keeps every row
    host, port = app.config["OPENQR_HOST"], app.config["OPENQR_PORT"]
    logging.getLogger("openqr").info("OpenQR serving on http://%s:%s", host, port)
    serve(app, host=host, port=port, threads=app.config["OPENQR_THREADS"], ident="OpenQR")


if __name__ == "__main__":
    main()
