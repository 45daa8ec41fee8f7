"""The control plane's HTTP API: `chaser.api.app.create_app`."""
