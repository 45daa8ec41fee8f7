"""`python -m chaser.host`: the host daemon, configured from CHASER_HOST_* environment variables.

`chaser host` (the CLI) does the same with flags; this entry point lets tests and process
supervisors start the daemon without the CLI.
"""

from __future__ import annotations

import logging

from chaser.host.daemon import serve
from chaser.settings import HostSettings

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    serve(HostSettings())
