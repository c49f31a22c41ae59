"""Partners of the network, their programs and their API keys."""
