//! One CPython compile worker process and its framed pipe protocol.
