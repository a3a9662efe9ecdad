//! The `pyship` command line.

fn main() {
    pyship::run();
}
