"""The foundation every wing stands on: files and locks, value domains and field coercion,
small statistics. Nothing here knows tasks, models or runs."""
