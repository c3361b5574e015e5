"""The four services; each imports shared and, for event schemas only, the other services events modules."""
