"""Platform-wide billing endpoints on the apex: the Stripe webhook."""
