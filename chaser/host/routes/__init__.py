"""Routes of the host daemon's interactive surface (docs/host-streams.md), one file per noun.

`chaser.host.api.create_app` includes them; they find the VmManager and the token on `app.state`.
"""
