"""imgbench: measure how fast and how compactly Python stores and reads back many small images."""

__version__ = "0.1.0"
