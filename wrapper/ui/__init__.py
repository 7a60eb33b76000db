"""The web dashboard's files (`static/`, served at /ui by `wrapper.api.ui`) and the pinned,
vendored front-end dependencies they load (`vendor.json`, fetched by `vendor.py`)."""
