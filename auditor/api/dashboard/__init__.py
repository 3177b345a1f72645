"""The web dashboard of `auditor serve`: server-rendered pages over the API's store queries, signed in with an
API token (``session``), charts as inline SVG (``charts``); no script, font or stylesheet from elsewhere."""

from auditor.api.dashboard.routes import install

__all__ = ["install"]
