"""The rules of the control plane: no HTTP, no SQL strings (queries live in `chaser.store`)."""
