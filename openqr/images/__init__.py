"""Images: QR rendering (`render`: parameters, styles, PNG and SVG bytes, ETags), the gate every
render passes (`gate`: capacity, waiting line, per-account budget, cache) with the worker processes
that draw (`workers`), and its HTTP answers (`http`: parsing image parameters, 304s, cache headers).

Knows nothing of codes or accounts: callers hand it the data to encode and the owner to count it
against. May import the app shell (errors, config) only.
"""
