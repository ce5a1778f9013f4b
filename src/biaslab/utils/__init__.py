"""Config printing, logging and instantiation helpers (kept free of heavy imports)."""
