"""Processes in the sandbox: `exec` (run to completion, merged output)."""
