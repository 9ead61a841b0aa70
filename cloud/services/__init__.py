"""Data access: keyword-only async functions over an AsyncSession, one module per concern."""
