"""NATS: publishing Ennio's events to NATS subjects for other processes and machines."""
