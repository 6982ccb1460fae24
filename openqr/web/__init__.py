"""What every HTTP-facing area shares: HTMX helpers (`htmx`) and pages and links (`pages`:
stand-alone pages, where a `next` parameter may lead). Imports nothing of the app but `text`."""
