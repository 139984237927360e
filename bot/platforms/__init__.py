"""Platform adapters.  Only modules below this package may import discord or slack libraries."""
