"""API shapes: `XCreate` bodies in, `XOut` models out, `Page[XOut]` for lists. Store rows are
never returned directly."""
