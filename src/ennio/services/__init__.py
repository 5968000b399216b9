"""Services: the orchestration that wires plugins together through the core Protocols."""
