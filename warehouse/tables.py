"""Import every module that defines warehouse tables, so ``metadata`` knows them all."""
from warehouse import code_tables, geocode_cache, metadata, trend_tables  # noqa: F401
