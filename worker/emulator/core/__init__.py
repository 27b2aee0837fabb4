"""The emulator's core: what both API faces (``csbs/``, ``cbr/``) share and neither owns.

One request pipeline (faults, admission, pacing, stats, error rendering), one error type, sign-in and
signatures, the deletion task board and its clock, the scenario helpers, and the server. The core imports
no face: a face hands it its own errors, its door rules and its routes as data.
"""
