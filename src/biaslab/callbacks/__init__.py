"""Callbacks: reliability guards and the probes that turn the lecture's claims into numbers."""
