"""What every remote backend shares: provider keys, token bounds, and error classification."""
