"""Partners' webhooks: where each partner wants its events, and their signed delivery."""
