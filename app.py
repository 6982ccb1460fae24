"""Build the OpenQR app and serve it with waitress: `python app.py` (or `make run`)."""

import gc
import logging
import signal
import sys

from openqr import ConfigError, assistant, links, scans, visitors
from openqr import create_app as build_app
from openqr.extensions import db
from openqr.models import utcnow


def create_app():
    """The app for `flask ...` commands; a bad setting ends with one clear line."""
    try:
        return build_app()
    except ConfigError as err:
        sys.exit(f"openqr: configuration error: {err}")


def _stop(signum, _frame):
    """SIGTERM stops like Ctrl-C: waitress leaves its loop, then the buffered scans are written."""
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main() -> None:
    app = create_app()
    logging.basicConfig(
        level=app.config["OPENQR_LOG_LEVEL"], format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from flask_migrate import upgrade
    from waitress import create_server

    with app.app_context():
        upgrade()  # pending migrations first, so an upgrade keeps every row
        assistant.warn_shadowed_slug(app)
        visitors.forget_ended_days(utcnow().date())  # keys of days that ended while we were stopped
        db.session.commit()
    app.extensions["openqr.schedule"].start()  # due schedule entries reach the database each second
    host, port = app.config["OPENQR_HOST"], app.config["OPENQR_PORT"]
    server = create_server(
        app,
        host=host,
        port=port,
        threads=app.config["OPENQR_THREADS"],
        ident="OpenQR",
        # Waitress would strip X-Forwarded-For before the app sees it; OPENQR_TRUSTED_PROXIES
        # decides, hop by hop, whose forwarding header is believed (openqr.scans).
        clear_untrusted_proxy_headers=False,
    )
    log = logging.getLogger("openqr")
    log.info("OpenQR serving on http://%s:%s", host, port)
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    # The scan flusher works in batches; hand the interpreter to waiting requests every
    # millisecond (not every 5) so a batch does not show up in the redirects' latency.
    sys.setswitchinterval(0.001)
    # Everything built so far (routes, models, parsers) lives as long as the process: move it out
    # of the collector's reach, so a full collection under load scans only new objects and does
    # not stall every request for tens of milliseconds.
    scans.warm_up()
    links.table_of(app).start()  # every link in memory before the first scan
    gc.collect()
    gc.freeze()
    deliverer = app.extensions["openqr.webhooks"]
    deliverer.start()  # webhook events wait in the database; this process sends its share
    try:
        server.run()  # returns after closing its sockets and finishing the requests being answered
    except KeyboardInterrupt:
        server.close()
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the last write short
        if "openqr.mcp" in app.extensions:
            app.extensions["openqr.mcp"].close()
        # Every answered scan is in the buffer by now: write them all before exiting.
        app.extensions["openqr.recorder"].stop()
        deliverer.stop()
        log.info("OpenQR stopped")


if __name__ == "__main__":
    main()
