"""DataModules that every model family shares: images (B, C, H, W) and token sequences (B, L)."""
