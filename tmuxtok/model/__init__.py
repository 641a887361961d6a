"""Pure accounting: no I/O, stdlib only, safe to import from hot paths."""
