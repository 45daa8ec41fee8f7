"""Guest images: local root filesystems by name, and OCI images (registry, layout dir, archive).

`ImageCache.resolve(name)` takes either a cache name (`base`) or an OCI reference; see
`cache.py` for the names, `oci.py` for references, `registry.py` for pulls, `unpack.py` for layers.
"""

from chaser.host.images.cache import ImageCache

__all__ = ["ImageCache"]
