"""The decision store's schema versions, oldest first."""
