//! A pool of persistent CPython compile workers behind [`super::Backend`].
