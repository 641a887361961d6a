"""The pieces of the live panel, one renderable per module."""
