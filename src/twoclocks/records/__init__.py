"""What a run records and how it is read back: the summary keys (schema), older formats
upgraded on read (formats), a recorded config read without importing its plugins (recorded)."""
