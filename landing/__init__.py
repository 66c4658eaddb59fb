"""landing: local landing pages for a medical practice, from site.toml, templates and locations.csv."""

__version__ = "0.1.0"
