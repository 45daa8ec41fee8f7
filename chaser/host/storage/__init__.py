"""Workspace storage beyond one disk: the reflink pool, snapshots, clones and git import.

- `pool.py`: at daemon start, put `state_dir/disks` and `state_dir/snapshots` on a filesystem
  with reflinks (the data directory's own, or a loop-mounted XFS file made once).
- `copy.py`: one image file to another, as a reflink (instant, shared extents) or a sparse copy.
- `snapshots.py`: snapshots, restores and clones of workspace disks, freezing a live one.
- `git_import.py`: clone a git repository into a detached disk without storing the token.
"""
