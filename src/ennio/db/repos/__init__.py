"""One repository per table group; each method is one short transaction."""
