"""The fixed provider id of CSBS (docs/csbs-api.md, Objects), known to the settings and the client alike."""

DEFAULT_PROVIDER_ID = "fc4d5750-22e7-4798-8a46-f48f62c4c1da"
