"""Loaded with -p before Django's settings are read: test-only environment."""

import os

os.environ.setdefault("CAREPATH_TASK_BACKEND", "immediate")
os.environ.setdefault("CAREPATH_STAFF_IDLE_TIMEOUT_MINUTES", "15")
