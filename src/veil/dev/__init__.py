"""veil.dev: owner tools for writing apps — project scaffolding and local testing without a TEE."""
