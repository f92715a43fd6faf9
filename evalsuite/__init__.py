"""evalsuite: reproducible evaluation of neural audio codecs."""
__version__ = "0.1.0"
