"""End-to-end tests of documented workflows: the seed page, the docs, the
examples and notebook, training progress, property-based checks."""
