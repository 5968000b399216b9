"""The ``ennio`` command line (typer): parses arguments, calls services and the database, prints.

Cold start matters (``ennio status`` should answer in well under a quarter of a second), so
command modules import only typer at the top and load everything heavier inside the command.
"""
