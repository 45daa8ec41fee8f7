"""A session's control endpoint (subdomain and path forms): description, PTY, port forwards."""

from chaser.api.gateway.middleware import Gateway

__all__ = ["Gateway"]
