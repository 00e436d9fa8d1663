"""The review store's schema versions, oldest first."""
