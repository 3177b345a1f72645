"""Rules about TLS: HTTPS redirects, certificates and security policies."""
