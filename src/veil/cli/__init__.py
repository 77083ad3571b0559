"""Command-line interface: parse, call the library, render. The only place that prints."""
