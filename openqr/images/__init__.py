"""Images: QR rendering (`render`: parameters, styles, PNG and SVG bytes, ETags), the gate every
render passes (`gate`: capacity, waiting line, per-account budget, cache) with the worker processes
that draw (`workers`), its HTTP answers (`http`: parsing image parameters, 304s, cache headers) and
static codes (`payloads`: the text each type encodes, a Wi-Fi network or a contact card, built from
its fields by the rules of `payload_fields`).

Knows nothing of codes or accounts: callers hand it the data to encode and the owner to count it
against. May import the app shell (errors, config) only.
"""
