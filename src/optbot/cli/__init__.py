"""The `optbot` command."""
