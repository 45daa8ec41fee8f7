"""One router per resource; each carries its own prefix and tag."""
