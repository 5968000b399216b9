"""Command-line front end: `ennio …` (typer). Thin: parses, calls services, prints."""
