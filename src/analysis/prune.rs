//! Pruning (`--prune-from`): the modules an entry point reaches by static imports.
