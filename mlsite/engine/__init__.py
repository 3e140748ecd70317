"""The Pulumi engine on this machine: its toolchain (built from Go modules), mlsite's
language host, and running ``pulumi`` on a stack with the right environment."""
