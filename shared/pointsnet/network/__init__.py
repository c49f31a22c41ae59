"""The network between programs: linked accounts, exchange rates, quotes and obligations."""
