"""Nothing to configure here: the ini option in pyproject.toml exports the fake's connection string."""
