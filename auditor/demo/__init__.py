"""The built-in demo environment: an embedded moto server and a Kubernetes API emulator, seeded."""
