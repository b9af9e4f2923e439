"""Import every module that defines warehouse tables, so ``metadata`` knows them all."""
from warehouse import geocode_cache, metadata, seeds, trend_tables  # noqa: F401
