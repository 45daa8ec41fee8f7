"""Chaser: sessions as microVMs."""

__version__ = "0.1.0"
