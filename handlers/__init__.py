"""Platform-neutral commands: Command -> engine -> Reply."""
