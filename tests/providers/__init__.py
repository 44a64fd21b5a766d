"""Fakes of the providers' HTTP APIs on loopback, speaking their real wire formats."""
