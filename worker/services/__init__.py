"""The services a run can talk to, as peers: each in its own folder, named in one registry."""
