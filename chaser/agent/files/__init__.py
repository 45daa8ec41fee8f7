"""Files in the sandbox: `read_file`, `write_file`."""
