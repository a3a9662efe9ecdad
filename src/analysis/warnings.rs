//! Warnings under `-OO` and `--strip-docstrings`: code that reads docstrings, and libraries
//! that need them.
