"""The sandbox payment provider's local checkout page and its signed callback (dev and demos)."""
