"""veil.package: the veil.toml model, deterministic archive, app fingerprint and .veil format."""
