"""biaslab."""
