"""The ``pulse`` command line: command modules, assembled by ``flows.cli.main``."""
