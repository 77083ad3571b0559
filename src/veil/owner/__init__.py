"""veil.owner: what the app owner runs — verify evidence, seal secrets, deploy."""
