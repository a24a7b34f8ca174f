"""The domain: the Learner aggregate, its events and value objects."""
