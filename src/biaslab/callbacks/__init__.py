"""Callbacks: reliability guards, the release of a spawned worker's process group, and the
probes that turn the lecture's claims into numbers."""
