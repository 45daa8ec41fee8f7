"""Chaser guest agent: runs inside every sandbox, dials out to the host daemon, serves ops.

Stdlib only and relative imports only: the host bind-mounts this directory read-only at
/opt/chaser/chaser_agent and starts it as `python3 -m chaser_agent` under tini.
"""

AGENT_VERSION = "0.1.0"
