"""The analyst API and web console (`trustwatch serve`)."""

__all__: list[str] = []
