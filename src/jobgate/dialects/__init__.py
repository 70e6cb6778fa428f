"""Wire dialects. Each is a thin translation layer that gets the service layer and nothing else."""
