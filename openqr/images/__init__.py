"""Images: QR rendering (`render`: parameters, styles, PNG and SVG bytes, ETags) and its HTTP
answers (`http`: parsing image parameters, 304s, cache headers).

Knows nothing of codes or accounts: callers hand it the data to encode. May import the app shell
(errors) only.
"""
