"""Chromium in a browser session: one supervised process, its CDP port on 127.0.0.1 only (the host
reaches it through the agent's port relay), its profile and unpacked extensions on disk."""
