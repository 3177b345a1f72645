"""Rules: one module each, ``auditor/rules/<area>/<rule>.py`` exposing ``RULE``."""
